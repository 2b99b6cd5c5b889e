package yamllint

import (
	"fmt"
	"regexp"

	"github.com/birdflock/runner/pkg/pyyaml"
)

var octalNumberRe = regexp.MustCompile(`^[0-7]+` + pyEnd)

var ruleOctalValues = &rule{
	ID:      "octal-values",
	Type:    tokenRule,
	Options: []option{boolOpt("forbid-implicit-octal", true), boolOpt("forbid-explicit-octal", true)},
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
		if o.bool("forbid-implicit-octal") && len(val) > 1 && val[0] == '0' && isDigits(val) &&
			octalNumberRe.MatchString(val[1:]) {
			ps = append(ps, problem(tok.Start.Line+1, tok.End.Column+1,
				fmt.Sprintf(`forbidden implicit octal value "%s"`, val)))
		}
		if o.bool("forbid-explicit-octal") && len(val) > 2 && val[:2] == "0o" && octalNumberRe.MatchString(val[2:]) {
			ps = append(ps, problem(tok.Start.Line+1, tok.End.Column+1,
				fmt.Sprintf(`forbidden explicit octal value "%s"`, val)))
		}
		return ps
	},
}

// isDigits is str.isdigit for values already known to start with '0'
// followed by octal digits (or a trailing newline, which is not a digit).
func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
