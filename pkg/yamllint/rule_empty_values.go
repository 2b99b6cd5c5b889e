package yamllint

import "github.com/birdflock/runner/pkg/pyyaml"

var ruleEmptyValues = &rule{
	ID:   "empty-values",
	Type: tokenRule,
	Options: []option{boolOpt("forbid-in-block-mappings", true),
		boolOpt("forbid-in-flow-mappings", true)},
	CheckToken: func(o Options, t tokenArgs, _ any, _ []rune) []Problem {
		var ps []Problem
		if t.token.Kind != pyyaml.Value || t.next == nil {
			return nil
		}
		if o.bool("forbid-in-block-mappings") && (t.next.Kind == pyyaml.Key || t.next.Kind == pyyaml.BlockEnd) {
			ps = append(ps, problem(t.token.Start.Line+1, t.token.End.Column+1, "empty value in block mapping"))
		}
		if o.bool("forbid-in-flow-mappings") && (t.next.Kind == pyyaml.FlowEntry || t.next.Kind == pyyaml.FlowMappingEnd) {
			ps = append(ps, problem(t.token.Start.Line+1, t.token.End.Column+1, "empty value in flow mapping"))
		}
		return ps
	},
}
