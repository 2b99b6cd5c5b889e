package workflow_test

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
	"gopkg.in/yaml.v3"
)

// bigMatrix is a small workflow whose matrix is a × b legs.
func bigMatrix(a, b int) []byte {
	var s strings.Builder
	s.WriteString("on: push\njobs:\n  bomb:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        a: [")
	for i := 0; i < a; i++ {
		if i > 0 {
			s.WriteString(",")
		}
		fmt.Fprint(&s, i)
	}
	s.WriteString("]\n        b: [")
	for i := 0; i < b; i++ {
		if i > 0 {
			s.WriteString(",")
		}
		fmt.Fprint(&s, i)
	}
	s.WriteString("]\n    steps: [{run: echo}]\n")
	return []byte(s.String())
}

// allocated is the number of bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A matrix far over the limit is refused from the product of its vectors'
// lengths, before any leg is built (issue 12: a 89 KB workflow used to
// take gigabytes).
func TestMatrixTooLargeRefusedBeforeExpanding(t *testing.T) {
	src := bigMatrix(16384, 64)
	var errs workflow.Errors
	n := allocated(func() { _, errs = workflow.Load("bomb.yaml", src, workflow.Options{}) })
	if len(errs) != 1 || !regexp.MustCompile(`^bomb\.yaml:7:9: job "bomb": matrix has 1048576 combinations; GitHub's limit is 256 \[matrix\]$`).MatchString(errs.Error()) {
		t.Fatalf("errors:\n%v", errs)
	}
	// Parsing the file itself takes a few megabytes; the legs would take
	// hundreds.
	if n > 48<<20 {
		t.Errorf("Load allocated %d MB", n>>20)
	}
	// What the listing of workflows does: check the matrix without
	// expanding it, even one within the product limit.
	n = allocated(func() { _, errs = workflow.Load("bomb.yaml", src, workflow.Options{NoMatrixLegs: true}) })
	if len(errs) != 1 || n > 48<<20 {
		t.Errorf("NoMatrixLegs: allocated %d MB; errors:\n%v", n>>20, errs)
	}
}

// A matrix from an expression (expanded at run time) is bounded the same
// way, and so is the product of many small vectors (no overflow).
func TestMatrixCombosBounded(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{a: '${{ fromJSON(format(''[{0}]'', join(range, '',''))) }}', b: '${{ fromJSON(format(''[{0}]'', join(range, '',''))) }}'}`, "matrix has 4194304 combinations; GitHub's limit is 256"},
		{"{" + manyKeys(70, 3) + "}", "matrix has more than 9223372036854775807 combinations; GitHub's limit is 256"},
		// 256 legs of 308 values each.
		{"{" + manyKeys(8, 2) + ", " + strings.ReplaceAll(manyKeys(300, 1), "k", "o") + "}", "matrix has 78848 values in 256 combinations; the limit is 65536"},
		// Applying 300 exclude entries to 16384 combinations.
		{"{a: [" + strings.Repeat("1, ", 16383) + "1], exclude: [" + strings.Repeat("{a: 2}, ", 299) + "{a: 2}]}", "matrix has 16384 combinations and 300 exclude entries, too many to apply; GitHub's limit is 256 combinations"},
		// Exclude brings it under the limit: fine.
		{`{a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17], b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], exclude: [{a: 17}]}`, ""},
		// Include adds legs past the limit.
		{`{a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], include: [{a: 0}]}`, "matrix has more than 256 combinations; GitHub's limit is 256"},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte("matrix: "+tc.src), &doc); err != nil {
			t.Fatal(err)
		}
		rng := make([]any, 2048)
		for i := range rng {
			rng[i] = float64(i)
		}
		m, err := workflow.DecodeMatrix(doc.Content[0].Content[1], func(src string) (any, error) {
			tmpl, err := expr.ParseTemplate(src)
			if err != nil {
				return nil, err
			}
			return tmpl.Eval(&expr.Env{Contexts: map[string]any{"range": rng}})
		})
		if err != nil {
			t.Fatal(err)
		}
		var combos []workflow.Combo
		n := allocated(func() { combos, err = m.Combos() })
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%.60s: got %q (%d legs), want %q", tc.src, got, len(combos), tc.want)
		}
		if tc.want != "" && n > 1<<20 {
			t.Errorf("%.60s: refusing allocated %d bytes", tc.src, n)
		}
	}
}

// manyKeys is n matrix keys k0… of width values each.
func manyKeys(n, width int) string {
	var s []string
	for i := 0; i < n; i++ {
		s = append(s, fmt.Sprintf("k%d: [%s]", i, strings.TrimSuffix(strings.Repeat("1, ", width), ", ")))
	}
	return strings.Join(s, ", ")
}

// NoMatrixLegs (the listing of workflows) does not compute legs: a matrix
// whose exclude leaves nothing is only found when legs are computed.
func TestNoMatrixLegs(t *testing.T) {
	src := []byte("on: push\njobs:\n  j:\n    runs-on: x\n    strategy:\n      matrix: {a: [1], exclude: [{a: 1}]}\n    steps: [{run: echo}]\n")
	if _, errs := workflow.Load("w.yaml", src, workflow.Options{}); errs.Error() != `w.yaml:6:15: job "j": matrix has no combinations [matrix]` {
		t.Errorf("legs: %v", errs)
	}
	if _, errs := workflow.Load("w.yaml", src, workflow.Options{NoMatrixLegs: true}); len(errs) > 0 {
		t.Errorf("NoMatrixLegs: %v", errs)
	}
}
