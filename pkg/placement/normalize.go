package placement

// lowerIsBetter min-max normalises x from the candidates' range [lo, hi]
// to a score, the lowest value scoring 100 and the highest 0:
//
//	score = 100 × (hi − x) / (hi − lo), or 100 when hi == lo
func lowerIsBetter(x, lo, hi float64) float64 {
	if hi <= lo {
		return maxScore
	}
	return maxScore * (hi - x) / (hi - lo)
}

// maxScore is the best score, as the scheduler's MaxNodeScore.
const maxScore = 100

// span is the range of a raw figure over the candidates.
type span struct {
	lo, hi float64
	seen   bool
}

func (s *span) add(x float64) {
	if !s.seen {
		s.lo, s.hi, s.seen = x, x, true
		return
	}
	s.lo, s.hi = min(s.lo, x), max(s.hi, x)
}
