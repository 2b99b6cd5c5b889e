package workflow

import (
	"fmt"
	"strings"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// ruleRefSteps checks steps.<id>.<property>: the id belongs to a step
// that runs before (a step's own id and later ones are not set yet; job
// outputs see every step), and the property is outputs, outcome or
// conclusion.
func ruleRefSteps() *rule {
	return &rule{expr: func(v *validator, e *exprNode) {
		if e.job == nil {
			return
		}
		before := e.job.Steps
		if e.step != nil {
			before = before[:e.step.Index]
		}
		e.accesses(func(p expr.Path, pos Pos) {
			if p.Segments[0] != "steps" || len(p.Segments) < 2 || p.Segments[1] == "*" {
				return
			}
			id := p.Segments[1]
			var ids []string
			found := false
			for _, s := range before {
				if s.ID.Set {
					ids = append(ids, s.ID.Raw)
					found = found || strings.EqualFold(s.ID.Raw, id)
				}
			}
			if !found {
				what := "before this step"
				switch {
				case e.step == nil && v.action != nil:
					what = "in the action"
				case e.step == nil:
					what = "in job " + e.job.ID
				}
				later := ""
				if e.step != nil {
					for _, s := range e.job.Steps[e.step.Index:] {
						switch {
						case !strings.EqualFold(s.ID.Raw, id) || later != "":
						case s == e.step:
							later = " (it is this step's own id: its results are set only after it runs)"
						default:
							later = fmt.Sprintf(" (it is the id of step %d, which runs after this one)", s.Index+1)
						}
					}
				}
				v.errf(pos, "steps-ref", "%s: step %q is not defined %s%s; step ids defined %s: %s%s",
					e.where, id, what, later, what, listOrNone(ids), didYouMean(id, ids))
				return
			}
			if len(p.Segments) > 2 && p.Segments[2] != "*" {
				props := []string{"conclusion", "outcome", "outputs"}
				switch {
				case !contains(props, p.Segments[2]):
					v.errf(pos, "steps-ref", "%s: steps.%s has no property %q; expected %s%s",
						e.where, id, p.Segments[2], strings.Join(props, ", "), didYouMean(p.Segments[2], props))
				case p.Segments[2] != "outputs" && len(p.Segments) > 3:
					v.errf(pos, "steps-ref", "%s: steps.%s.%s is a string: it has no property %q (the access is always null)",
						e.where, id, p.Segments[2], p.Segments[3])
				}
			}
		})
	}}
}
