package run_test

import (
	"context"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// A step's env: is evaluated before its if: and its name, as in GitHub's
// StepsRunner: the condition and the name see it in the env context. An
// env: that fails to evaluate fails the step even when its if: is false:
// GitHub never gets to the condition.
func TestStepEnvBeforeIf(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - name: named-${{ env.X }}
        env: {X: '1'}
        if: env.X == '1'
        run: echo "env-if ran X=$X"
      - env: {Y: "${{ fromJSON(github.event_name) }}"}
        if: false
        run: echo never
      - if: always()
        run: echo after
`, run.Trigger{}, run.Options{})
	j := job(t, res, "a")
	if len(j.Steps) != 3 {
		t.Fatalf("steps %+v\n%s", j.Steps, out)
	}
	if s := j.Steps[0]; s.Conclusion != "success" || s.Name != "named-1" || !strings.Contains(out, "env-if ran X=1") {
		t.Errorf("step with env: X and if: env.X == '1': %+v\n%s", s, out)
	}
	if s := j.Steps[1]; s.Conclusion != "failure" || !strings.HasPrefix(s.Error, "test.yaml:11:") {
		t.Errorf("step whose env: fails and whose if: is false: %+v, want failure at test.yaml:11\n%s", s, out)
	}
	if j.Result != "failure" || strings.Contains(out, "| never") || !strings.Contains(out, "| after") {
		t.Errorf("job %s\n%s", j.Result, out)
	}
}
