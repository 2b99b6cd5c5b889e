package workflow

import (
	"strings"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// ruleRefNeeds checks needs.<job>.<property>: the job is in this job's
// needs (needs holds only the direct ones), the property is outputs or
// result, and needs.<job>.outputs.<name> is one of that job's outputs.
func ruleRefNeeds() *rule {
	var w *Workflow
	return &rule{
		workflow: func(_ *validator, wf *Workflow) { w = wf },
		expr: func(v *validator, e *exprNode) {
			if e.job == nil || v.action != nil { // an action has no needs: ruleContexts reports it
				return
			}
			var needs []string
			for _, n := range e.job.Needs {
				needs = append(needs, n.Raw)
			}
			e.accesses(func(p expr.Path, pos Pos) {
				if p.Segments[0] != "needs" || len(p.Segments) < 2 || p.Segments[1] == "*" {
					return
				}
				id := p.Segments[1]
				var dep *Job
				listed := false
				for _, n := range needs {
					if strings.EqualFold(n, id) {
						listed, dep = true, w.Job(n)
					}
				}
				if listed && dep == nil {
					return // an unknown job in needs: ruleNeeds reports it
				}
				if dep == nil {
					v.errf(pos, "needs-ref", "%s: job %q is not in the needs of job %q; needs: %s%s",
						e.where, id, e.job.ID, listOrNone(needs), didYouMean(id, needs))
					return
				}
				if len(p.Segments) < 3 || p.Segments[2] == "*" {
					return
				}
				props := []string{"outputs", "result"}
				if !contains(props, p.Segments[2]) {
					v.errf(pos, "needs-ref", "%s: needs.%s has no property %q; expected outputs or result%s",
						e.where, id, p.Segments[2], didYouMean(p.Segments[2], props))
					return
				}
				if p.Segments[2] == "result" && len(p.Segments) > 3 {
					v.errf(pos, "needs-ref", "%s: needs.%s.result is a string: it has no property %q (the access is always null)",
						e.where, id, p.Segments[3])
					return
				}
				if p.Segments[2] != "outputs" || len(p.Segments) < 4 || p.Segments[3] == "*" || dep.calls {
					return // a called workflow's outputs are its own
				}
				var outs []string
				for _, o := range dep.Outputs {
					if strings.EqualFold(o.Key, p.Segments[3]) {
						return
					}
					outs = append(outs, o.Key)
				}
				v.errf(pos, "needs-ref", "%s: job %q has no output %q; its outputs: %s%s",
					e.where, dep.ID, p.Segments[3], listOrNone(outs), didYouMean(p.Segments[3], outs))
			})
		},
	}
}
