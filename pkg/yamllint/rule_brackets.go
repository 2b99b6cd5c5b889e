package yamllint

import "github.com/birdflock/runner/pkg/pyyaml"

var ruleBrackets = &rule{
	ID:   "brackets",
	Type: tokenRule,
	Options: []option{
		{name: "forbid", kind: optTuple, choices: []any{pyBool, "non-empty"}, repr: "(<class 'bool'>, 'non-empty')", dflt: false},
		intOpt("min-spaces-inside", 0),
		intOpt("max-spaces-inside", 0),
		intOpt("min-spaces-inside-empty", -1),
		intOpt("max-spaces-inside-empty", -1),
	},
	CheckToken: func(o Options, t tokenArgs, _ any, buf []rune) []Problem {
		return checkFlowSpaces(o, t, buf, pyyaml.FlowSequenceStart, pyyaml.FlowSequenceEnd, "flow sequence", "brackets")
	},
}
