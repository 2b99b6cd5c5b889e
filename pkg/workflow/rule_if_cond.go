package workflow

import (
	"strings"
	"unicode"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// textAroundCondition tells whether an if: value parses as a template
// but has text around its ${{ }} (or several of them): GitHub then reads
// the value as a non-empty string, always true.
func textAroundCondition(e *exprNode) bool {
	if !e.cond || !strings.Contains(e.val.Raw, "${{") {
		return false
	}
	_, err := expr.ParseTemplate(e.val.Raw)
	return err == nil
}

// ruleIfCond reports an if: such as `${{ a }} && b` or `x ${{ a }}`.
// GitHub runs the job or step whatever a is; runner refuses it rather
// than run it anyway, so this is an error, at the first character of
// text.
func ruleIfCond() *rule {
	return &rule{badExpr: func(v *validator, e *exprNode, _ error) {
		if !textAroundCondition(e) {
			return
		}
		off := len(e.val.Raw) - len(strings.TrimLeftFunc(e.val.Raw, unicode.IsSpace))
		if strings.HasPrefix(e.val.Raw[off:], "${{") {
			// The text is after the first expression.
			end := strings.Index(e.val.Raw[off:], "}}") + off + 2
			off = end + len(e.val.Raw[end:]) - len(strings.TrimLeftFunc(e.val.Raw[end:], unicode.IsSpace))
		}
		v.errf(offsetPos(e.val, off), "if-cond",
			"%s: text outside ${{ }}: GitHub reads %q as a non-empty string, which is always true; put the whole condition inside one ${{ }}, or write it without ${{ }}",
			e.where, e.val.Raw)
	}}
}
