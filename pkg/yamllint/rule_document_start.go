package yamllint

import "github.com/birdflock/runner/pkg/pyyaml"

var ruleDocumentStart = &rule{
	ID:      "document-start",
	Type:    tokenRule,
	Options: []option{boolOpt("present", true)},
	CheckToken: func(o Options, t tokenArgs, _ any, _ []rune) []Problem {
		tok := t.token
		if o.bool("present") {
			if t.prev != nil && (t.prev.Kind == pyyaml.StreamStart || t.prev.Kind == pyyaml.DocumentEnd ||
				t.prev.Kind == pyyaml.Directive) &&
				tok.Kind != pyyaml.DocumentStart && tok.Kind != pyyaml.Directive && tok.Kind != pyyaml.StreamEnd {
				return []Problem{problem(tok.Start.Line+1, 1, `missing document start "---"`)}
			}
		} else if tok.Kind == pyyaml.DocumentStart {
			return []Problem{problem(tok.Start.Line+1, tok.Start.Column+1, `found forbidden document start "---"`)}
		}
		return nil
	},
}
