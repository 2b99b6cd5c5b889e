package workflow

import (
	"fmt"
	"strings"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// quoteExpr writes s as an expression string literal.
func quoteExpr(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// evalLiteralCall evaluates a call written with literal arguments, with
// the evaluator the run uses, so that the check says what the run would.
func evalLiteralCall(src string) (any, error) {
	n, err := expr.Parse(src)
	if err != nil {
		return nil, err
	}
	return expr.Eval(n, &expr.Env{})
}

// ruleFuncs checks calls whose arguments are written out: a format()
// string that is invalid or names more arguments than it is given (an
// error at run time), arguments format() never uses (a warning), and
// fromJSON() of a string that is not JSON.
func ruleFuncs() *rule {
	return &rule{expr: func(v *validator, e *exprNode) {
		for _, n := range e.nodes {
			for _, r := range expr.RefsAt(n) {
				if !r.Func || len(r.Args) == 0 {
					continue
				}
				lit, ok := expr.Literal(r.Args[0])
				s, isString := lit.(string)
				if !ok || !isString {
					continue
				}
				pos := offsetPos(e.val, r.Args[0].Offset())
				switch r.Name {
				case "format":
					v.checkFormat(e, pos, s, len(r.Args)-1)
				case "fromjson":
					if _, err := evalLiteralCall("fromJSON(" + quoteExpr(s) + ")"); err != nil {
						v.errf(pos, "fromjson", "%s: fromJSON(%s) fails: %s", e.where, quoteExpr(s), strings.TrimPrefix(err.Error(), "evaluation: "))
					}
				}
			}
		}
	}}
}

func (v *validator) checkFormat(e *exprNode, pos Pos, fs string, nargs int) {
	var b strings.Builder
	b.WriteString("format(" + quoteExpr(fs))
	marker := func(i int) string { return fmt.Sprintf("\x00%d\x00", i) }
	for i := 0; i < nargs; i++ {
		b.WriteString(", " + quoteExpr(marker(i)))
	}
	b.WriteString(")")
	out, err := evalLiteralCall(b.String())
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "evaluation: ")
		if strings.Contains(msg, "more arguments") {
			msg = fmt.Sprintf("%s refers to more arguments than the %d given", quoteExpr(fs), nargs)
		}
		v.errf(pos, "format", "%s: format(): %s", e.where, msg)
		return
	}
	res, _ := out.(string)
	for i := 0; i < nargs; i++ {
		if !strings.Contains(res, marker(i)) {
			v.warnf(pos, "format", "%s: format(): %s does not use argument {%d}", e.where, quoteExpr(fs), i)
		}
	}
}
