package workflow

import (
	"fmt"
	"strings"
)

// ruleTemplateText warns about template forms that do not do what they
// seem to, or that runner reads otherwise than GitHub (runner plan and
// check show it):
//   - a matrix value that is one ${{ }} with whitespace around it (a
//     quoted or block scalar): GitHub's template reader, and runner, make
//     it a string (format('{0} ', expr)), so an array it gives is not
//     spliced into the list and a number or object becomes text;
//   - a step's with: key computed by an expression or ${{ insert }}:
//     GitHub evaluates them, runner passes the key as written;
//   - a job output's name holding ${{ }} is an error: GitHub's schema
//     gives the outputs mapping no context, so it refuses the expression.
func ruleTemplateText() *rule {
	return &rule{
		job: func(v *validator, j *Job) {
			for _, kv := range j.Outputs {
				if strings.Contains(kv.Key, "${{") {
					v.errf(kv.KeyPos, "expression", "job %s.outputs: key %q: GitHub allows no expression in an output's name (A template expression is not allowed in this context)", j.ID, kv.Key)
				}
			}
			if j.Strategy == nil || j.Strategy.Matrix == nil {
				return
			}
			matrixValues(j.Strategy.Matrix, func(val Value) {
				if !strings.Contains(val.Raw, "${{") || WholeExpr(val.Raw) || !WholeExpr(strings.TrimSpace(val.Raw)) {
					return
				}
				pos := val.Pos
				if val.Quoted {
					pos.Col++
				}
				v.warnf(pos, "template-text", "job %s: strategy.matrix: whitespace around ${{ }} makes %q a string, on GitHub as in runner: an array it gives is not spliced into the list, a number or object becomes text; remove the whitespace", j.ID, val.Raw)
			})
		},
		step: func(v *validator, j *Job, s *Step) {
			for _, kv := range s.With {
				if strings.Contains(kv.Key, "${{") {
					v.warnf(kv.KeyPos, "template-text", "%s: with: key %q: GitHub computes keys written with ${{ }} (and inserts the entries of ${{ insert }}); runner passes the key as written", fmt.Sprintf("job %s step %d", j.ID, s.Index+1), kv.Key)
				}
			}
		},
	}
}
