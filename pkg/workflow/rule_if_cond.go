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
	return &rule{expr: constantCondition, badExpr: func(v *validator, e *exprNode, _ error) {
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

// constantCondition warns about an if: that reads no context and calls
// no status function (if: true, if: ${{ false }}): it always gives the
// same answer, which is rarely what was meant.
func constantCondition(v *validator, e *exprNode) {
	if !e.cond || len(e.nodes) != 1 {
		return
	}
	explicitSuccess := strings.Contains(strings.ToLower(e.val.Raw), "success")
	for _, r := range expr.RefsAt(e.nodes[0]) {
		switch {
		case !r.Func:
			return // reads a context
		case r.Name == "success" && !explicitSuccess:
			// the implicit success() && (...) of a condition
		case r.Name == "always" || r.Name == "failure" || r.Name == "cancelled" || r.Name == "success" || r.Name == "hashfiles":
			return
		}
	}
	off := len(e.val.Raw) - len(strings.TrimLeftFunc(e.val.Raw, unicode.IsSpace))
	v.warnf(offsetPos(e.val, off), "if-cond", "%s: the condition %q reads no context and calls no status function, so it is always the same; remove the if: or write the condition meant",
		e.where, strings.TrimSpace(e.val.Raw))
}
