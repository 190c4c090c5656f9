package mdtext

import "testing"

func TestCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a|b", `a\|b`},
		{"R1 type=ptr_<task>", "R1 type=ptr_&lt;task>"},
		{"two\nlines\r\nand\rmore", "two lines and more"},
	}
	for _, tt := range tests {
		if got := Cell(tt.in); got != tt.want {
			t.Errorf("Cell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
