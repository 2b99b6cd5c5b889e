package expr

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// conformanceDir finds GitHub's expression conformance corpus, an external
// check kept outside the repository: $RUNNER_SHARED/conformance/expressions,
// else the "shared" folder beside the clone. It skips the test when the
// corpus is absent, unless $RUNNER_REQUIRE_SHARED is set (CI sets it, so CI
// always runs all of it). The package's own tests cover the evaluator
// without it.
func conformanceDir(t testing.TB) string {
	root := os.Getenv("RUNNER_SHARED")
	if root == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				t.Fatal("no go.mod above the test directory")
			}
			dir = parent
		}
		root = filepath.Join(filepath.Dir(dir), "shared")
	}
	dir := filepath.Join(root, "conformance", "expressions")
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(files) == 0 {
		if os.Getenv("RUNNER_REQUIRE_SHARED") != "" {
			t.Fatalf("no conformance cases in %s, and RUNNER_REQUIRE_SHARED is set", dir)
		}
		t.Skipf("GitHub's expression conformance corpus is not in %s (an optional external check: set RUNNER_SHARED=DIR to run it)", dir)
	}
	return dir
}

type confCase struct {
	Expr     string          `json:"expr"`
	Contexts json.RawMessage `json:"contexts"`
	Result   *struct {
		Kind  string          `json:"kind"`
		Value json.RawMessage `json:"value"`
	} `json:"result"`
	Err *struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	} `json:"err"`
}

// runCase runs one conformance case; "" means it passed.
func runCase(c confCase) string {
	env := &Env{Contexts: map[string]any{}}
	var names []string
	if len(c.Contexts) > 0 {
		v, err := ParseJSON(c.Contexts)
		if err != nil {
			return "bad contexts: " + err.Error()
		}
		o, ok := v.(*Object)
		if !ok {
			return "contexts is not an object"
		}
		for i, k := range o.Keys() {
			names = append(names, k)
			env.Contexts[k] = o.Values()[i]
		}
	}
	if names == nil {
		names = []string{}
	}
	got, err := func() (any, error) {
		n, err := ParseWith(c.Expr, ParseOptions{Contexts: names})
		if err != nil {
			return nil, err
		}
		return Eval(n, env)
	}()
	if c.Err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return "want " + c.Err.Kind + " error, got " + KindOf(got) + " " + compactJSON(got)
		}
		if string(e.Kind) != c.Err.Kind {
			return "want " + c.Err.Kind + " error, got " + err.Error()
		}
		return ""
	}
	if err != nil {
		return "unexpected error: " + err.Error()
	}
	if c.Result == nil {
		return "case has neither result nor err"
	}
	if k := KindOf(got); k != c.Result.Kind {
		return "want kind " + c.Result.Kind + ", got " + k + " " + compactJSON(got)
	}
	want, err := ParseJSON(c.Result.Value)
	if err != nil {
		return "bad result value: " + err.Error()
	}
	if g, w := compactJSON(got), compactJSON(want); g != w {
		return "want " + w + ", got " + g
	}
	return ""
}

func TestConformance(t *testing.T) {
	dir := conformanceDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance cases in %s (%v)", dir, err)
	}
	sort.Strings(files)
	passed, failed := 0, 0
	var failures []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tests map[string][]confCase
		if err := json.Unmarshal(data, &tests); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		base := strings.TrimSuffix(filepath.Base(f), ".json")
		names := make([]string, 0, len(tests))
		for name := range tests {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			for i, c := range tests[name] {
				if msg := runCase(c); msg != "" {
					failed++
					failures = append(failures, base+": "+name+" #"+itoa(i)+" ("+short(c.Expr)+"): "+msg)
				} else {
					passed++
				}
			}
		}
	}
	t.Logf("%d passed, %d failed", passed, failed)
	for _, f := range failures {
		t.Error(f)
	}
	if passed+failed != 820 {
		t.Errorf("ran %d cases, want 820", passed+failed)
	}
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func itoa(i int) string { return jsNumberString(float64(i)) }
