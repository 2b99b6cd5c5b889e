package workflow

import "strings"

// ruleNeeds checks that every `needs:` names a job and that there is no cycle.
func ruleNeeds() *rule { return &rule{done: checkNeeds} }

func checkNeeds(v *validator, w *Workflow) {
	ids := map[string]*Job{}
	for _, j := range w.Jobs {
		ids[j.ID] = j
	}
	for _, j := range w.Jobs {
		seen := map[string]bool{}
		for _, n := range j.Needs {
			switch {
			case ids[n.Raw] == nil:
				v.errf(n.Pos, "needs", "job %q needs unknown job %q; jobs are: %s", j.ID, n.Raw, jobIDs(w))
			case n.Raw == j.ID:
				v.errf(n.Pos, "needs", "job %q needs itself", j.ID)
			case seen[n.Raw]:
				v.errf(n.Pos, "needs", "job %q lists %q twice in needs", j.ID, n.Raw)
			}
			seen[n.Raw] = true
		}
	}
	// Depth-first search; each cycle found is reported at every job in it.
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(j *Job)
	visit = func(j *Job) {
		color[j.ID] = grey
		stack = append(stack, j.ID)
		for _, n := range j.Needs {
			d := ids[n.Raw]
			if d == nil || d == j {
				continue
			}
			switch color[d.ID] {
			case white:
				visit(d)
			case grey:
				i := len(stack) - 1
				for stack[i] != d.ID {
					i--
				}
				cycle := append(append([]string{}, stack[i:]...), d.ID)
				// Each job of the cycle, at its needs entry that
				// continues it, the cycle written from that job.
				for k := 0; k+1 < len(cycle); k++ {
					from := ids[cycle[k]]
					rot := append(append([]string{}, cycle[k:len(cycle)-1]...), cycle[:k+1]...)
					for _, fn := range from.Needs {
						if fn.Raw == cycle[k+1] {
							v.errf(fn.Pos, "needs", "cyclic needs: %s", strings.Join(rot, " -> "))
							break
						}
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[j.ID] = black
	}
	for _, j := range w.Jobs {
		if color[j.ID] == white {
			visit(j)
		}
	}
}

func jobIDs(w *Workflow) string {
	ids := make([]string, len(w.Jobs))
	for i, j := range w.Jobs {
		ids[i] = j.ID
	}
	return strings.Join(ids, ", ")
}
