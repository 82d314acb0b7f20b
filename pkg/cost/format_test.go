package cost

import "testing"

func TestFormatAmount(t *testing.T) {
	for v, want := range map[float64]string{
		1234567.891: "1234567.89", 12345.678: "12345.68", 1234.567: "1234.57", 1: "1.00", -250.5: "-250.50",
		0.5: "0.5", 0.0123456: "0.01235", 0: "0",
	} {
		if got := FormatAmount(v); got != want {
			t.Errorf("FormatAmount(%v) = %q, want %q", v, got, want)
		}
	}
}
