package workflow

import (
	"strings"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// ruleMatrixKinds reports runs-on: ${{ matrix.<key> }} where every leg
// gives the key an object: runs-on takes a label or a list of labels
// (properties of scalar matrix values: rule_ref_matrix.go). Matrices
// computed at run time are not known and not reported.
func ruleMatrixKinds() *rule {
	var job *Job
	var legs map[string][]any
	jobLegs := func(v *validator, e *exprNode) map[string][]any {
		if e.job == nil || v.action != nil {
			return nil
		}
		if e.job != job {
			job, legs = e.job, matrixLegValues(v, e.job)
		}
		return legs
	}
	return &rule{expr: func(v *validator, e *exprNode) {
		if e.key == jobKey+"runs-on" && len(e.nodes) == 1 && strings.HasPrefix(strings.TrimSpace(e.val.Raw), "${{") &&
			strings.HasSuffix(strings.TrimSpace(e.val.Raw), "}}") {
			ps := e.pathsOf(0)
			if len(ps) == 1 && ps[0].Text == e.nodes[0].String() && len(ps[0].Segments) == 2 && ps[0].Segments[0] == "matrix" {
				if vals := jobLegs(v, e)[strings.ToLower(ps[0].Segments[1])]; len(vals) > 0 && allObjects(vals) {
					v.errf(offsetPos(e.val, ps[0].Offset), "matrix-ref", "job %s: runs-on is %s, an object in every leg (%s): runs-on takes a label or a list of labels",
						e.job.ID, ps[0].Text, strings.TrimPrefix(describeValues(vals), "one of "))
				}
			}
		}
	}}
}

// allObjects reports whether every value is an object.
func allObjects(vals []any) bool {
	for _, x := range vals {
		if _, ok := x.(*expr.Object); !ok {
			return false
		}
	}
	return true
}
