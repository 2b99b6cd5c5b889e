package workflow

import (
	"strings"
	"unicode"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// firstExprEnd is the offset just past the }} that closes the ${{ at the
// start of s (quoted strings skipped, as expr reads them), or -1.
func firstExprEnd(s string) int {
	if !strings.HasPrefix(s, "${{") {
		return -1
	}
	in := false
	for i := 3; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			in = !in
		case !in && s[i] == '}' && i+1 < len(s) && s[i+1] == '}':
			return i + 2
		}
	}
	return -1
}

// ruleIfCond warns about conditions that do not say what they seem to:
//   - an if: with text (even whitespace) around its ${{ }}, such as
//     `${{ a }} && b`: GitHub reads the value as a non-empty string, so
//     the job or step runs whatever a is (runner does the same);
//   - a condition that reads no context and calls no status function
//     (if: true, if: ${{ false }}): always the same answer.
func ruleIfCond() *rule {
	return &rule{expr: func(v *validator, e *exprNode) {
		if !e.cond {
			return
		}
		raw := e.val.Raw
		if strings.Contains(raw, "${{") && firstExprEnd(raw) != len(raw) {
			off := 0
			if end := firstExprEnd(raw); end > 0 {
				// The text after the first expression: its first
				// character that is not a space, if it has one.
				off = end
				if rest := strings.TrimLeftFunc(raw[end:], unicode.IsSpace); rest != "" {
					off = len(raw) - len(rest)
				}
			}
			v.warnf(offsetPos(e.val, off), "if-cond",
				"%s: text outside ${{ }}: GitHub reads %q as a non-empty string, so the condition is always true; put the whole condition inside one ${{ }}, or write it without ${{ }}",
				e.where, raw)
			return
		}
		constantCondition(v, e)
	}}
}

// constantCondition warns about an if: that reads no context and calls
// no status function (if: true, if: ${{ false }}): it always gives the
// same answer, which is rarely what was meant.
func constantCondition(v *validator, e *exprNode) {
	if len(e.nodes) != 1 {
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
