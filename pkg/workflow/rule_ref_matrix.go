package workflow

import (
	"strings"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// ruleRefMatrix checks matrix.<key>: the job's matrix defines the key,
// as a vector or in an include entry. A matrix built by an expression is
// known only at run time and is not checked.
func ruleRefMatrix() *rule {
	var keys []string // of the current job, computed once per job
	static := true
	return &rule{job: func(_ *validator, j *Job) {
		keys, static = nil, true
		if s := j.Strategy; s != nil && s.Matrix != nil {
			keys, static = matrixKeys(s.Matrix)
		}
	}, expr: func(v *validator, e *exprNode) {
		if e.job == nil || !static {
			return
		}
		e.accesses(func(p expr.Path, pos Pos) {
			if p.Segments[0] != "matrix" || len(p.Segments) < 2 || p.Segments[1] == "*" {
				return
			}
			for _, k := range keys {
				if strings.EqualFold(k, p.Segments[1]) {
					return
				}
			}
			if len(keys) == 0 {
				v.errf(pos, "matrix-ref", "%s: job %q has no matrix, so matrix.%s is always empty", e.where, e.job.ID, p.Segments[1])
				return
			}
			v.errf(pos, "matrix-ref", "%s: the matrix of job %q has no key %q; its keys: %s%s",
				e.where, e.job.ID, p.Segments[1], strings.Join(keys, ", "), didYouMean(p.Segments[1], keys))
		})
	}}
}
