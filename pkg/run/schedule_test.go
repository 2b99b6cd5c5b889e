package run_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// Legs whose names clean to the same file name still get a workspace and
// log of their own; object values show flattened in leg names.
func TestMatrixLegsSeparate(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  o:
    runs-on: x
    strategy:
      matrix:
        v: ["a/b", "a_b", "a b"]
    steps:
      - run: |
          echo "${{ matrix.v }}" > mine
          sleep 0.3
          echo "leg [${{ matrix.v }}] reads [$(cat mine)] in $(basename $(dirname "$GITHUB_WORKSPACE"))"
  p:
    runs-on: x
    strategy:
      matrix:
        cfg: [{a: 1, b: 2}, {a: 3}]
    steps:
      - run: echo "cfg ${{ matrix.cfg.a }}"
`, run.Trigger{}, run.Options{Parallel: 3})
	for _, v := range []string{"a/b", "a_b", "a b"} {
		if !strings.Contains(out, "leg ["+v+"] reads ["+v+"]") {
			t.Errorf("leg %q did not keep its workspace\n%s", v, out)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(res.Dir, "*.log"))
	if len(logs) != 5 {
		t.Errorf("want 5 job logs, got %q", logs)
	}
	if job(t, res, "p (1, 2)").Result != "success" || job(t, res, "p (3)").Result != "success" {
		t.Errorf("object legs: %+v", res.Jobs)
	}
}

// Legs start in matrix order and ready jobs in declaration order.
func TestStartOrder(t *testing.T) {
	for attempt := 0; attempt < 3; attempt++ {
		_, out := runWF(t, context.Background(), `
on: push
jobs:
  first:
    runs-on: x
    strategy:
      max-parallel: 1
      matrix:
        n: [1, 2, 3, 4]
    steps:
      - run: echo "leg ${{ matrix.n }}"
  second:
    runs-on: x
    steps:
      - run: echo "job second"
  third:
    runs-on: x
    strategy:
      matrix:
        n: [1, 2, 3]
    steps:
      - run: echo "leg3 ${{ matrix.n }}"
`, run.Trigger{}, run.Options{Parallel: 1})
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if i := strings.Index(line, "| "); i >= 0 {
				got = append(got, line[i+2:])
			}
		}
		want := "leg 1,leg 2,leg 3,leg 4,job second,leg3 1,leg3 2,leg3 3"
		if strings.Join(got, ",") != want {
			t.Fatalf("order %q, want %q", got, want)
		}
	}
}

// A job without if: runs only when every job it depends on, directly or
// through others, succeeded: the implicit success() covers all ancestors
// (actions/runner#2205). c's grandparent failed; its parent ran anyway
// (if: always()) and succeeded; c is skipped, d (if: always()) runs.
func TestImplicitSuccessCoversAncestors(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: exit 1
  b:
    needs: a
    if: always()
    runs-on: x
    steps:
      - run: echo b ran
  c:
    needs: b
    runs-on: x
    steps:
      - run: echo c ran
  d:
    needs: b
    if: always()
    runs-on: x
    steps:
      - run: echo d ran
`, run.Trigger{}, run.Options{})
	for key, want := range map[string]string{"a": "failure", "b": "success", "c": "skipped", "d": "success"} {
		if got := job(t, res, key).Result; got != want {
			t.Errorf("job %s: %s, want %s\n%s", key, got, want, out)
		}
	}
}

// needs names a job case-insensitively, as on GitHub: needs: build waits
// for job Build and reads its outputs.
func TestNeedsIgnoresCase(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  Build:
    runs-on: x
    outputs:
      v: ${{ steps.s.outputs.v }}
    steps:
      - id: s
        run: echo "v=42" >> "$GITHUB_OUTPUT"
        shell: Bash
  test:
    needs: build
    runs-on: x
    steps:
      - run: echo "got ${{ needs.build.outputs.v }}"
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" || !strings.Contains(out, "got 42") {
		t.Errorf("conclusion %s\n%s", res.Conclusion, out)
	}
}
