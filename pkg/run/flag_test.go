package run_test

import (
	"context"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// fail-fast: false and continue-on-error: false are the boolean false,
// not the string "false" (a non-empty string, which is truthy): a failed
// leg cancels no other, and a failed job or step stays failed.
func TestFalseFlags(t *testing.T) {
	res, out := runWF(t, context.Background(), `on: push
jobs:
  m:
    strategy:
      fail-fast: false
      matrix:
        v: [1, 2]
    runs-on: x
    steps: [{run: 'sleep 0.${{ matrix.v }}; echo "leg ${{ matrix.v }} ends"; test ${{ matrix.v }} = 2'}]
  job:
    continue-on-error: false
    runs-on: x
    steps: [{run: exit 1}]
  step:
    runs-on: x
    steps:
      - run: exit 1
        continue-on-error: false
      - run: echo after-step
  quoted:
    continue-on-error: "true"
    runs-on: x
    steps: [{run: exit 1}]
`, run.Trigger{}, run.Options{})
	if m := job(t, res, "m (2)"); m.Result != "success" || !strings.Contains(out, "leg 2 ends") {
		t.Errorf("fail-fast: false cancelled leg 2: %s\n%s", m.Result, out)
	}
	if r := job(t, res, "job").Result; r != "failure" {
		t.Errorf("job with continue-on-error: false: %s", r)
	}
	if r := job(t, res, "step").Result; r != "failure" || strings.Contains(out, "| after-step") {
		t.Errorf("step with continue-on-error: false: %s\n%s", r, out)
	}
	if r := job(t, res, "quoted").Result; r != "success" {
		t.Errorf("continue-on-error: \"true\": %s", r)
	}
}
