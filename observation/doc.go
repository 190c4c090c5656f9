// Package observation owns the document that carries one kernel's answers from the guest agent
// to the reports: the outcome words, the probe's facts about the kernel, one result row per
// (helper, program-type variant), the guest block that says how the kernel was booted, and the
// one reader and writer of that document.
//
// The probe engine writes the facts and results, the harness adds the guest block, the
// observation cache stores the document, and verdicts and reports read it. None of them declares
// these fields again: a field added here reaches every one of them, and a field nobody fills is
// caught by the producer test in package observe.
//
// The package is a leaf: it imports nothing of this module and nothing outside the standard
// library, so both the guest agent and the host side can link it.
package observation
