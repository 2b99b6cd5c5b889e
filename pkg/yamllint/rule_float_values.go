package yamllint

import (
	"fmt"
	"regexp"

	"github.com/birdflock/runner/pkg/pyyaml"
)

var (
	numeralBeforeDecimalRe = regexp.MustCompile(`^[-+]?(\.[0-9]+)([eE][-+]?[0-9]+)?` + pyEnd)
	scientificNotationRe   = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)` + pyEnd)
	infRe                  = regexp.MustCompile(`^[-+]?(\.inf|\.Inf|\.INF)` + pyEnd)
	nanRe                  = regexp.MustCompile(`^(\.nan|\.NaN|\.NAN)` + pyEnd)
)

// pyEnd mimics Python's "$" (end of text, or before a final newline).
const pyEnd = `\n?$`

var ruleFloatValues = &rule{
	ID:   "float-values",
	Type: tokenRule,
	Options: []option{boolOpt("require-numeral-before-decimal", false),
		boolOpt("forbid-scientific-notation", false), boolOpt("forbid-nan", false),
		boolOpt("forbid-inf", false)},
	CheckToken: func(o Options, t tokenArgs, _ any, _ []rune) []Problem {
		if t.prev != nil && t.prev.Kind == pyyaml.Tag {
			return nil
		}
		tok := t.token
		if tok.Kind != pyyaml.Scalar || tok.Style != 0 {
			return nil
		}
		val := tok.Value
		var ps []Problem
		at := func(msg string) {
			ps = append(ps, problem(tok.Start.Line+1, tok.Start.Column+1, fmt.Sprintf(msg, val)))
		}
		if o.bool("forbid-nan") && nanRe.MatchString(val) {
			at(`forbidden not a number value "%s"`)
		}
		if o.bool("forbid-inf") && infRe.MatchString(val) {
			at(`forbidden infinite value "%s"`)
		}
		if o.bool("forbid-scientific-notation") && scientificNotationRe.MatchString(val) {
			at(`forbidden scientific notation "%s"`)
		}
		if o.bool("require-numeral-before-decimal") && numeralBeforeDecimalRe.MatchString(val) {
			at(`forbidden decimal missing 0 prefix "%s"`)
		}
		return ps
	},
}
