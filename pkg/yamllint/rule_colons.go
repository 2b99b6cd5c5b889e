package yamllint

import "github.com/birdflock/runner/pkg/pyyaml"

var ruleColons = &rule{
	ID:      "colons",
	Type:    tokenRule,
	Options: []option{intOpt("max-spaces-before", 0), intOpt("max-spaces-after", 1)},
	CheckToken: func(o Options, t tokenArgs, _ any, buf []rune) []Problem {
		var ps []Problem
		if t.token.Kind == pyyaml.Value {
			ps = appendP(ps, spacesBefore(t.token, t.prev, buf, -1, o.int("max-spaces-before"), "", "too many spaces before colon"))
			ps = appendP(ps, spacesAfter(t.token, t.next, -1, o.int("max-spaces-after"), "", "too many spaces after colon"))
		}
		if t.token.Kind == pyyaml.Key && isExplicitKey(t.token, buf) {
			ps = appendP(ps, spacesAfter(t.token, t.next, -1, o.int("max-spaces-after"), "", "too many spaces after question mark"))
		}
		return ps
	},
}
