package workflow

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
)

// didYouMean returns `; did you mean "x"?` for the candidates closest to
// name (case-insensitive edit distance, a swap of two neighbours counting
// as one edit, at most a third of its length, at least 1, and less than
// the length of both), or "".
func didYouMean(name string, candidates []string) string {
	lname := strings.ToLower(name)
	limit := max(1, len(lname)/3)
	best, bestD := []string(nil), limit+1
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if lc == lname {
			continue
		}
		d := levenshtein.Distance(lname, lc, nil)
		if swapped(lname, lc) {
			d = 1
		}
		if d > limit || d >= len(lname) || d >= len(lc) {
			continue
		}
		switch {
		case d < bestD:
			best, bestD = []string{c}, d
		case d == bestD:
			best = append(best, c)
		}
	}
	if len(best) == 0 {
		return ""
	}
	sort.Strings(best)
	q := make([]string, len(best))
	for i, b := range best {
		q[i] = fmt.Sprintf("%q", b)
	}
	return "; did you mean " + strings.Join(q, " or ") + "?"
}

// listOrNone joins names for a message, or says there are none.
func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// swapped tells whether b is a with two neighbouring bytes swapped.
func swapped(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
}
