package yamllint

import "github.com/birdflock/runner/pkg/pyyaml"

var ruleHyphens = &rule{
	ID:      "hyphens",
	Type:    tokenRule,
	Options: []option{intOpt("max-spaces-after", 1)},
	CheckToken: func(o Options, t tokenArgs, _ any, _ []rune) []Problem {
		if t.token.Kind != pyyaml.BlockEntry {
			return nil
		}
		return appendP(nil, spacesAfter(t.token, t.next, -1, o.int("max-spaces-after"), "", "too many spaces after hyphen"))
	},
}
