package workflow

import "errors"

var errDynamic = errors.New("dynamic")

// ruleMatrix checks every matrix that has no expressions: its size from
// the vectors' lengths, then (unless Options.NoMatrixLegs) its legs, so
// that an exclude on an unknown key or an empty product is caught before
// running.
func ruleMatrix() *rule {
	return &rule{job: func(v *validator, j *Job) {
		if j.Strategy == nil || j.Strategy.Matrix == nil {
			return
		}
		sm := v.matrixOf(j)
		err := sm.err
		if err == nil {
			_, err = sm.m.Product()
		}
		if err == nil && !v.opts.NoMatrixLegs {
			_, err = sm.legs()
		}
		if err != nil && !errors.Is(err, errDynamic) {
			v.errf(posOf(j.Strategy.Matrix), "matrix", "job %q: %v", j.ID, err)
		}
	}}
}
