package workflow

import "errors"

// Plan is the job graph of a valid workflow: jobs grouped in levels, where
// each job's needs are all in earlier levels. Jobs of one level can run at
// the same time.
type Plan struct {
	Levels [][]*PlannedJob
}

// PlannedJob is a job with its matrix legs, when they are known statically.
type PlannedJob struct {
	Job *Job
	// Combos are the matrix combinations; one empty Combo without a matrix;
	// nil when the matrix depends on expressions known only at run time.
	Combos []Combo
}

// NewPlan computes the levels. The workflow must have passed Validate.
func NewPlan(w *Workflow) *Plan {
	level := map[string]int{}
	var depth func(j *Job) int
	depth = func(j *Job) int {
		if l, ok := level[j.ID]; ok {
			return l
		}
		level[j.ID] = 0 // guards against cycles Validate would have reported
		l := 0
		for _, n := range j.Needs {
			if d := w.Job(n.Raw); d != nil {
				if x := depth(d) + 1; x > l {
					l = x
				}
			}
		}
		level[j.ID] = l
		return l
	}
	p := &Plan{}
	for _, j := range w.Jobs {
		l := depth(j)
		for len(p.Levels) <= l {
			p.Levels = append(p.Levels, nil)
		}
		pj := &PlannedJob{Job: j, Combos: []Combo{{}}}
		if j.Strategy != nil && j.Strategy.Matrix != nil {
			pj.Combos = nil
			m, err := DecodeMatrix(j.Strategy.Matrix, func(string) (any, error) { return nil, errDynamic })
			if err == nil {
				pj.Combos, err = m.Combos()
			}
			if err != nil && !errors.Is(err, errDynamic) {
				pj.Combos = nil
			}
		}
		p.Levels[l] = append(p.Levels[l], pj)
	}
	return p
}
