package objverdict

import (
	"encoding/xml"
	"fmt"
	"io"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// junitSuites is the JUnit XML document: a suite per object, a case per program and kernel.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

// junitProblem is a refusal: the reason as the message, the cause as the type, the
// explanation and the verifier's log as the text.
type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: a test case per program and kernel ("PROGRAM on
// KERNEL", class the object), a refusal as a failure whose message is the reason, a failed
// kernel as an error (the kernel, not the program, gave no answer).
func (r *Report) WriteJUnit(w io.Writer) error {
	doc := junitSuites{Name: "bpfmatrix load"}
	for _, obj := range r.Objects() {
		s := junitSuite{Name: obj}
		for _, a := range r.Loads {
			if a.Object != obj {
				continue
			}
			c := junitCase{Name: fmt.Sprintf("%s (%s) on %s", a.Program, a.Section, a.Kernel), ClassName: obj}
			if !a.Loaded {
				p := &junitProblem{Message: a.Reason, Type: string(a.Cause), Text: a.Explanation}
				if a.Log != "" {
					p.Text += "\n" + a.Log
				}
				if a.Cause == observation.CauseKernelFailed {
					c.Error = p
					s.Errors++
				} else {
					c.Failure = p
					s.Failures++
				}
			}
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		doc.Tests, doc.Failures, doc.Errors = doc.Tests+s.Tests, doc.Failures+s.Failures, doc.Errors+s.Errors
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
