package serve

import (
	"testing"

	"github.com/birdflock/runner/pkg/workflow"
)

func TestWidth(t *testing.T) {
	job := func(id string, needs ...string) string {
		s := "  " + id + ":\n    runs-on: x\n"
		if len(needs) > 0 {
			s += "    needs: ["
			for i, n := range needs {
				if i > 0 {
					s += ", "
				}
				s += n
			}
			s += "]\n"
		}
		return s + "    steps: [{run: 'true'}]\n"
	}
	matrix := "  m:\n    runs-on: x\n    strategy: {matrix: {v: [1, 2, 3]}}\n    steps: [{run: 'true'}]\n"
	for _, c := range []struct {
		name  string
		jobs  string
		skip  map[string]bool
		limit int
		want  int
	}{
		{"one", job("a"), nil, 4, 1},
		{"chain", job("a") + job("b", "a") + job("c", "b"), nil, 4, 1},
		{"independent", job("a") + job("b") + job("c"), nil, 4, 3},
		{"independent over the limit", job("a") + job("b") + job("c"), nil, 2, 2},
		{"diamond", job("a") + job("b", "a") + job("c", "a") + job("d", "b", "c"), nil, 4, 2},
		// b and c are ordered only through a: transitively, not directly.
		{"transitive", job("a") + job("x", "a") + job("b", "x") + job("c"), nil, 4, 2},
		{"two chains", job("a") + job("b", "a") + job("c") + job("d", "c"), nil, 4, 2},
		{"kept jobs do not run", job("a") + job("b") + job("c", "a", "b"), map[string]bool{"a": true, "b": true}, 4, 1},
		{"matrix", job("a") + matrix, nil, 3, 3},
	} {
		w, errs := workflow.Load("w.yaml", []byte("on: push\njobs:\n"+c.jobs), workflow.Options{})
		if len(errs) > 0 {
			t.Fatalf("%s: %v", c.name, errs)
		}
		if got := width(w, c.skip, c.limit); got != c.want {
			t.Errorf("%s: width %d, want %d", c.name, got, c.want)
		}
	}
}
