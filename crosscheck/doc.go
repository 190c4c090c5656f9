// Package crosscheck holds, as tests only, the checks of the probe matrix against sources it
// does not derive from: the kfuncs a kernel image's own BTF tags (internal/kfunctags) and the
// kfunc registrations of the kernel's source (internal/kernelsrc), each compared with the
// recorded observations. The readers stay in internal/, which imports nothing above it; the
// comparisons need observation and vmimages, so they live here, above both. Nothing imports
// this package.
package crosscheck
