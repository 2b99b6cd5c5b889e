package yamllint

import "github.com/birdflock/runner/pkg/pyyaml"

var ruleCommas = &rule{
	ID:   "commas",
	Type: tokenRule,
	Options: []option{intOpt("max-spaces-before", 0), intOpt("min-spaces-after", 1),
		intOpt("max-spaces-after", 1)},
	CheckToken: func(o Options, t tokenArgs, _ any, buf []rune) []Problem {
		if t.token.Kind != pyyaml.FlowEntry {
			return nil
		}
		var ps []Problem
		if t.prev != nil && o.int("max-spaces-before") != -1 && t.prev.End.Line < t.token.Start.Line {
			ps = append(ps, problem(t.token.Start.Line+1, max(1, t.token.Start.Column), "too many spaces before comma"))
		} else {
			ps = appendP(ps, spacesBefore(t.token, t.prev, buf, -1, o.int("max-spaces-before"), "", "too many spaces before comma"))
		}
		ps = appendP(ps, spacesAfter(t.token, t.next, o.int("min-spaces-after"), o.int("max-spaces-after"),
			"too few spaces after comma", "too many spaces after comma"))
		return ps
	},
}
