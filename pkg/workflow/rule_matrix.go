package workflow

import "errors"

var errDynamic = errors.New("dynamic")

// ruleMatrix checks every matrix that has no expressions: its size from
// the vectors' lengths, then (unless Options.NoMatrixLegs) its legs, so
// that an exclude on an unknown key or an empty product is caught before
// running.
func ruleMatrix(v *validator, w *Workflow) {
	for _, j := range w.Jobs {
		if j.Strategy == nil || j.Strategy.Matrix == nil {
			continue
		}
		m, err := DecodeMatrix(j.Strategy.Matrix, func(string) (any, error) { return nil, errDynamic })
		if err == nil {
			_, err = m.Product()
		}
		if err == nil && !v.opts.NoMatrixLegs {
			_, err = m.Combos()
		}
		if err != nil && !errors.Is(err, errDynamic) {
			v.errf(posOf(j.Strategy.Matrix), "matrix", "job %q: %v", j.ID, err)
		}
	}
}
