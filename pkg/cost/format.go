package cost

import (
	"math"
	"strconv"
)

// FormatAmount writes an amount of money for a person to read: to the cent
// from one unit up (12345.68, where %g would write 1.235e+04, and %.4g
// round 1234.56 to 1235), and to four significant digits below, where a
// cost per hour often is (0.01234).
func FormatAmount(v float64) string {
	if math.Abs(v) >= 1 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
