package workflow

import (
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// bareAccess returns the access an argument consists of, if it is only
// that (github.event, not github.event.action or toJSON(github.event)).
func bareAccess(arg expr.Node) (expr.Path, bool) {
	ps := expr.Paths(arg)
	if len(ps) != 1 || ps[0].Text != arg.String() {
		return expr.Path{}, false
	}
	return ps[0], true
}

// ruleFuncArgs reports string functions given an object or an array
// that are always false: startsWith and endsWith with one (they compare
// strings), contains with an object to search in (it searches strings and
// arrays) or an object or array to find (compared by identity).
func ruleFuncArgs() *rule {
	return &rule{expr: func(v *validator, e *exprNode) {
		for _, n := range e.nodes {
			for _, r := range expr.RefsAt(n) {
				if !r.Func || (r.Name != "startswith" && r.Name != "endswith" && r.Name != "contains") || len(r.Args) != 2 {
					continue
				}
				for i, a := range r.Args {
					p, ok := bareAccess(a)
					if !ok {
						continue
					}
					what, ok := objectPath(p.Segments, p.Text)
					if !ok || r.Name == "contains" && i == 0 && what == "an array" {
						continue // contains searches arrays
					}
					v.errf(offsetPos(e.val, p.Offset), "func-args", "%s: %s(): %s is %s, so the call is always false; compare a property of it, or toJSON(%s)",
						e.where, funcDisplay(r.Name), p.Text, what, p.Text)
				}
			}
		}
	}}
}

func funcDisplay(lower string) string {
	switch lower {
	case "startswith":
		return "startsWith"
	case "endswith":
		return "endsWith"
	}
	return lower
}
