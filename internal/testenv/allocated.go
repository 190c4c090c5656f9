package testenv

import "runtime"

// Allocated returns the bytes f allocates, as runtime.MemStats counts them. Tests that hold a
// parser to a memory bound (fuzz targets, the foreign tables' fault tests) measure with it.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
