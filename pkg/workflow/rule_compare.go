package workflow

import (
	"regexp"
	"sort"
	"strings"
)

// knownValues are the values some properties can take; GitHub compares
// strings ignoring case.
func knownValues(segs []string) ([]string, bool) {
	outcomes := []string{"success", "failure", "cancelled", "skipped"}
	switch {
	case len(segs) == 3 && segs[0] == "needs" && segs[2] == "result" && segs[1] != "*":
		return outcomes, true
	case len(segs) == 3 && segs[0] == "steps" && (segs[2] == "outcome" || segs[2] == "conclusion") && segs[1] != "*":
		return outcomes, true
	case len(segs) != 2:
		return nil, false
	}
	switch segs[0] + "." + segs[1] {
	case "job.status":
		return []string{"success", "failure", "cancelled"}, true
	case "runner.os":
		return []string{"Linux", "Windows", "macOS"}, true
	case "runner.arch":
		return []string{"X86", "X64", "ARM", "ARM64"}, true
	case "github.ref_type":
		return []string{"branch", "tag"}, true
	case "github.event_name":
		return eventNames(), true
	}
	return nil, false
}

var (
	compareAfter  = regexp.MustCompile(`^ (==|!=) '((?:[^']|'')*)'`)
	compareBefore = regexp.MustCompile(`'((?:[^']|'')*)' (==|!=) $`)
)

// ruleCompare reports a comparison of a property with a fixed set of
// values (needs.<job>.result, steps.<id>.outcome, job.status, runner.os,
// github.event_name, ...) to a string that is none of them: == is always
// false, != always true, as with needs.build.result == 'succeeded'.
func ruleCompare() *rule {
	return &rule{expr: func(v *validator, e *exprNode) {
		for i, n := range e.nodes {
			var printed string
			var chains map[string][]int
			seen := map[string]int{}
			for _, p := range e.pathsOf(i) {
				k := seen[p.Text]
				seen[p.Text]++
				values, ok := knownValues(p.Segments)
				if !ok {
					continue
				}
				if chains == nil {
					printed = n.String() // normalized: accesses in source order, literals quoted
					chains = accessChains(printed)
				}
				if k >= len(chains[p.Text]) {
					continue
				}
				at := chains[p.Text][k]
				op, lit := "", ""
				if m := compareAfter.FindStringSubmatch(printed[at+len(p.Text):]); m != nil {
					op, lit = m[1], m[2]
				} else if m := compareBefore.FindStringSubmatch(printed[:at]); m != nil && outsideQuotes(printed[:at-len(m[0])]) {
					op, lit = m[2], m[1]
				} else {
					continue
				}
				lit = strings.ReplaceAll(lit, "''", "'")
				if containsFold(values, lit) {
					continue
				}
				always := "false"
				if op == "!=" {
					always = "true"
				}
				vals := append([]string(nil), values...)
				sort.Strings(vals)
				hint := didYouMean(lit, vals)
				if hint == "" && len(vals) <= 6 {
					hint = "; its values: " + strings.Join(vals, ", ")
				}
				v.errf(offsetPos(e.val, p.Offset), "compare", "%s: %s is never %s, so %s %s '%s' is always %s%s",
					e.where, p.Text, quoteExpr(lit), p.Text, op, lit, always, hint)
			}
		}
	}}
}

// accessChains maps each dotted access written outside string literals
// in a printed expression (github.event_name, needs.build.result) to
// where it occurs, in order: one pass, whatever the number of accesses.
func accessChains(printed string) map[string][]int {
	chains := map[string][]int{}
	in := false
	for i := 0; i < len(printed); i++ {
		c := printed[i]
		switch {
		case c == '\'':
			in = !in
		case in || !isWordByte(c) || i > 0 && (isWordByte(printed[i-1]) || printed[i-1] == '.'):
		default:
			j := i
			for j < len(printed) && (isWordByte(printed[j]) || printed[j] == '.' || printed[j] == '-') {
				j++
			}
			chains[printed[i:j]] = append(chains[printed[i:j]], i)
			i = j - 1
		}
	}
	return chains
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// outsideQuotes tells whether the end of a printed expression prefix is
// outside a string literal (” inside one keeps the count even).
func outsideQuotes(s string) bool { return strings.Count(s, "'")%2 == 0 }

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
