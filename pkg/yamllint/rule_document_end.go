package yamllint

import "github.com/birdflock/runner/pkg/pyyaml"

var ruleDocumentEnd = &rule{
	ID:      "document-end",
	Type:    tokenRule,
	Options: []option{boolOpt("present", true)},
	CheckToken: func(o Options, t tokenArgs, _ any, _ []rune) []Problem {
		tok := t.token
		if o.bool("present") {
			prevOK := t.prev != nil && (t.prev.Kind == pyyaml.DocumentEnd || t.prev.Kind == pyyaml.StreamStart)
			if tok.Kind == pyyaml.StreamEnd && !prevOK {
				return []Problem{problem(tok.Start.Line, 1, `missing document end "..."`)}
			} else if tok.Kind == pyyaml.DocumentStart && !prevOK {
				return []Problem{problem(tok.Start.Line+1, 1, `missing document end "..."`)}
			}
		} else if tok.Kind == pyyaml.DocumentEnd {
			return []Problem{problem(tok.Start.Line+1, tok.Start.Column+1, `found forbidden document end "..."`)}
		}
		return nil
	},
}
