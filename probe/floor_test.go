package probe

import "testing"

// TestFloor makes the floor's loads on this machine's kernel: one per program type and helper id,
// timed.
func TestFloor(t *testing.T) {
	requireRoot(t)
	s, err := Floor(1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Loads != floorTypes*floorHelpers || s.Seconds <= 0 {
		t.Errorf("floor: %d loads in %.3fs, want %d loads and a time", s.Loads, s.Seconds, floorTypes*floorHelpers)
	}
	t.Logf("floor on this kernel: %d loads in %.3fs (%.3f ms per load)", s.Loads, s.Seconds, 1000*s.Seconds/float64(s.Loads))
}
