package viewcache

import (
	"fmt"
	"strconv"
	"strings"
)

// Position is a cut through the source streams a view is joined from: for
// each source, the resourceVersion of the last of its events applied. The
// sources are watches of an API server backed by etcd, whose resourceVersions
// are revisions that only grow along one watch, so a position names the same
// set of source events on every replica that reads the same sources: two
// replicas at the same position hold the same views, and a watch from a
// position resumes on any replica whose history covers it.
//
// As a resourceVersion a position is written as its components in source
// order joined by dots, for example "1234.1250".
type Position []uint64

// String formats p as a resourceVersion.
func (p Position) String() string {
	parts := make([]string, len(p))
	for i, v := range p {
		parts[i] = strconv.FormatUint(v, 10)
	}
	return strings.Join(parts, ".")
}

// ParsePosition reads a resourceVersion written by String for n sources.
func ParsePosition(s string, n int) (Position, error) {
	parts := strings.Split(s, ".")
	if len(parts) != n {
		return nil, fmt.Errorf("resourceVersion %q is not a position of this resource (%d dot-separated numbers)", s, n)
	}
	p := make(Position, n)
	for i, part := range parts {
		v, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("resourceVersion %q: %w", s, err)
		}
		p[i] = v
	}
	return p, nil
}

// AtLeast reports whether p has reached q in every source.
func (p Position) AtLeast(q Position) bool {
	for i := range q {
		if p[i] < q[i] {
			return false
		}
	}
	return true
}

// Max is the position that has reached both p and q.
func (p Position) Max(q Position) Position {
	out := make(Position, len(p))
	for i := range p {
		out[i] = max(p[i], q[i])
	}
	return out
}

// Equal reports whether p and q are the same position.
func (p Position) Equal(q Position) bool {
	return p.AtLeast(q) && q.AtLeast(p)
}

func (p Position) clone() Position { return append(Position(nil), p...) }
