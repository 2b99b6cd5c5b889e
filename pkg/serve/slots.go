package serve

import (
	"github.com/birdflock/runner/pkg/workflow"
)

// width is how many jobs of w can run at once, at most: the largest set
// of jobs none of which needs another, directly or not (Dilworth: jobs
// minus a maximum matching of the needs order). Jobs in skip (kept from
// an earlier attempt) do not run. A matrix job can run many legs at once,
// so a workflow with one counts as limit. The result is in [1, limit].
func width(w *workflow.Workflow, skip map[string]bool, limit int) int {
	idx := map[string]int{}
	for i, j := range w.Jobs {
		idx[j.ID] = i
	}
	n := len(w.Jobs)
	// after[i][k]: job k runs after job i (transitively).
	after := make([][]bool, n)
	var visit func(i, from int)
	visit = func(i, from int) {
		for _, need := range w.Jobs[from].Needs {
			if k, ok := idx[need.Raw]; ok && !after[k][i] {
				after[k][i] = true
				visit(i, k)
			}
		}
	}
	for i := range w.Jobs {
		after[i] = make([]bool, n)
	}
	live := 0
	for i, j := range w.Jobs {
		visit(i, i)
		if skip[j.ID] {
			continue
		}
		live++
		if j.Strategy != nil && j.Strategy.Matrix != nil {
			return max(1, limit)
		}
	}
	// Kuhn's augmenting paths over live jobs: match[k] = i pairs i before k.
	match := make([]int, n)
	for i := range match {
		match[i] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for k := range n {
			if !after[i][k] || skip[w.Jobs[k].ID] || seen[k] {
				continue
			}
			seen[k] = true
			if match[k] < 0 || try(match[k], seen) {
				match[k] = i
				return true
			}
		}
		return false
	}
	matched := 0
	for i, j := range w.Jobs {
		if !skip[j.ID] && try(i, make([]bool, n)) {
			matched++
		}
	}
	return max(1, min(live-matched, limit))
}
