package run_test

import (
	"context"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// GitHub's template forms in env: the whole mapping as one expression (at
// the workflow, job and step), ${{ insert }} and names computed by
// expressions, each with the contexts of its level.
func TestEnvAsOneExpression(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
env: ${{ fromJSON('{"WF_A":"wa","SHARED":"wf"}') }}
jobs:
  a:
    runs-on: x
    outputs:
      env: ${{ steps.o.outputs.env }}
      key: ${{ steps.o.outputs.key }}
    steps:
      - id: o
        run: |
          echo 'env={"FROM_A":"1","N":2,"B":true,"NUL":null}' >> "$GITHUB_OUTPUT"
          echo 'key=DYN' >> "$GITHUB_OUTPUT"
  b:
    needs: a
    runs-on: x
    env: ${{ fromJSON(needs.a.outputs.env) }}
    steps:
      - env:
          ${{ needs.a.outputs.key }}_NAME: dynamic
          ${{ insert }}: ${{ fromJSON('{"INS":"yes","SHARED":"inserted"}') }}
        run: echo "wf=$WF_A shared=$SHARED from=$FROM_A n=$N b=$B nul=[$NUL] dyn=$DYN_NAME ins=$INS"
      - env: ${{ fromJSON(format('{{"STEP_ENV":"{0}-{1}"}}', env.FROM_A, github.job)) }}
        run: echo "step-env=$STEP_ENV ctx=${{ env.STEP_ENV }}"
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	for _, want := range []string{
		"wf=wa shared=inserted from=1 n=2 b=true nul=[] dyn=dynamic ins=yes",
		"step-env=1-b ctx=1-b",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}

// An env expression that does not give an object, a value that is not a
// scalar, a computed name that is empty and a name given twice fail the
// job or step with the position of the expression, as GitHub refuses them.
func TestEnvExpressionErrors(t *testing.T) {
	for _, tc := range []struct{ name, env, want string }{
		{"array", "env: ${{ fromJSON('[1]') }}", "test.yaml:6:10: env: the expression must give an object (a mapping), not an array"},
		{"nested", "env: ${{ fromJSON('{\"A\":{\"B\":1}}') }}", "test.yaml:6:10: env: the value of A must be a string, number or boolean, not an object"},
		{"insert", "env:\n      ${{ insert }}: ${{ 'text' }}", "test.yaml:7:22: env: the expression must give an object (a mapping), not a string"},
		{"empty name", "env:\n      ${{ '' }}: x", "test.yaml:7:7: env: the name computed by ${{ '' }} is empty"},
		{"twice", "env:\n      A: 1\n      ${{ 'a' }}: 2", "test.yaml:8:7: env: \"a\" is already defined (GitHub compares env names ignoring case)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    `+tc.env+`
    steps:
      - run: echo never
`, run.Trigger{}, run.Options{})
			if res.Conclusion != "failure" {
				t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
			}
			j := job(t, res, "a")
			if len(j.Steps) != 0 {
				t.Errorf("steps ran: %+v\n%s", j.Steps, out)
			}
			if got := j.Error; got != tc.want {
				t.Errorf("error %q, want %q\n%s", got, tc.want, out)
			}
		})
	}
}

// The job's defaults.run are evaluated when the job starts, with the job's
// env, needs and matrix, as GitHub's runner does.
func TestJobDefaultsExpressions(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    outputs:
      shell: ${{ steps.o.outputs.shell }}
    steps:
      - id: o
        run: echo 'shell=sh -e {0}' >> "$GITHUB_OUTPUT"
  b:
    needs: a
    runs-on: x
    strategy:
      matrix:
        dir: [one]
    env:
      SUB: sub
    defaults:
      run:
        shell: ${{ needs.a.outputs.shell }}
        working-directory: ${{ env.SUB }}-${{ matrix.dir }}
    steps:
      - run: mkdir sub-one
        working-directory: .
      - run: |
          echo "pwd=$(basename "$PWD")"
          if [ -n "$BASH_VERSION" ]; then echo shell=bash; else echo shell=sh; fi
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	for _, want := range []string{"pwd=sub-one", "shell=sh"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}

// Matrix templates: a key computed by an expression, ${{ insert }} and a
// sequence item whose expression gives an array, spliced into the
// sequence (GitHub's TemplateUnraveler inserts the array's items; any
// other value is one item).
func TestMatrixTemplates(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    outputs:
      key: ${{ steps.o.outputs.key }}
      list: ${{ steps.o.outputs.list }}
      more: ${{ steps.o.outputs.more }}
    steps:
      - id: o
        run: |
          echo 'key=os' >> "$GITHUB_OUTPUT"
          echo 'list=["b","c"]' >> "$GITHUB_OUTPUT"
          echo 'more={"n":[1],"include":[{"os":"a","extra":"x"}]}' >> "$GITHUB_OUTPUT"
  b:
    needs: a
    runs-on: x
    strategy:
      matrix:
        ${{ needs.a.outputs.key }}: [a, '${{ fromJSON(needs.a.outputs.list) }}', '${{ 7 }}']
        ${{ insert }}: ${{ fromJSON(needs.a.outputs.more) }}
    steps:
      - run: echo "leg os=${{ matrix.os }} n=${{ matrix.n }} extra=${{ matrix.extra }}"
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	var legs []string
	for _, j := range res.Jobs {
		if j.JobID == "b" {
			legs = append(legs, j.Name)
		}
	}
	if got, want := strings.Join(legs, "; "), "b (a, 1, x); b (b, 1); b (c, 1); b (7, 1)"; got != want {
		t.Errorf("legs %q, want %q\n%s", got, want, out)
	}
	for _, want := range []string{"leg os=a n=1 extra=x", "leg os=c n=1 extra="} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}

// A matrix template form that cannot give a matrix fails the job at the
// position of the value at fault, not at the strategy.
func TestMatrixTemplateErrorPosition(t *testing.T) {
	for _, tc := range []struct{ name, matrix, want string }{
		{"insert", "${{ insert }}: ${{ fromJSON('[1]') }}", "test.yaml:8:24: matrix: ${{ insert }} must give an object (a mapping), not an array"},
		{"key", "${{ fromJSON('[1]') }}: [1]", "test.yaml:8:9: matrix: the key ${{ fromJSON('[1]') }} must give a string, number or boolean, not an array"},
		{"value", "os: [a, '${{ fromJSON(github.event_name) }}']", "test.yaml:8:18: matrix: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    strategy:
      matrix:
        `+tc.matrix+`
    steps:
      - run: echo never
`, run.Trigger{}, run.Options{})
			if res.Conclusion != "failure" {
				t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
			}
			if got := job(t, res, "a").Error; !strings.HasPrefix(got, tc.want) || strings.Contains(got, ":0:0:") {
				t.Errorf("error %q, want %q…\n%s", got, tc.want, out)
			}
		})
	}
}

// Whitespace around a lone ${{ }} makes a matrix value a string, as in
// GitHub's template reader: the array is not spliced, it is its text.
func TestMatrixWhitespaceMakesAString(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    strategy:
      matrix:
        n: [' ${{ fromJSON(''[1, 2]'') }}']
    steps:
      - run: echo "n=[${{ matrix.n }}]"
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	if len(res.Jobs) != 1 || res.Jobs[0].Name != "a ( Array)" || !strings.Contains(out, "n=[ Array]") {
		t.Errorf("want one leg a ( Array) printing n=[ Array]\n%s", out)
	}
}

// A composite action's step takes the template forms in its env: too, with
// the action's contexts; an error names the action's file.
func TestCompositeStepEnvExpression(t *testing.T) {
	action := `
name: env
inputs:
  env: {default: '{}'}
runs:
  using: composite
  steps:
    - shell: sh
      env: ${{ fromJSON(inputs.env) }}
      run: echo "from-action A=$A B=$B"
`
	res, out := runWithActions(t, map[string]string{".github/actions/env/action.yml": action}, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: cp -R "$REPO/." .
      - uses: ./.github/actions/env
        with:
          env: '{"A":"1","B":true}'
      - uses: ./.github/actions/env
        with:
          env: '[1]'
`, run.Options{})
	if res.Conclusion != "failure" {
		t.Fatalf("conclusion %s\n%s", res.Conclusion, out)
	}
	wantLines(t, out, "from-action A=1 B=true", "action.yml:9:12: env: the expression must give an object (a mapping), not an array")
}

// runs-on may be an expression (a label, a list, a {group, labels}
// object): runner runs the job here whatever it gives, but an expression
// that fails fails the job, as on GitHub.
func TestRunsOnExpression(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  ok:
    runs-on: ${{ fromJSON('{"group":"g","labels":["self-hosted"]}') }}
    steps:
      - run: echo ran
  group:
    runs-on:
      group: ${{ github.event_name }}-runners
    steps:
      - run: echo ran
  bad:
    runs-on: ${{ fromJSON(github.event_name) }}
    steps:
      - run: echo never
`, run.Trigger{}, run.Options{})
	if r := job(t, res, "ok").Result; r != "success" {
		t.Errorf("job ok: %s\n%s", r, out)
	}
	if r := job(t, res, "group").Result; r != "success" {
		t.Errorf("job group: %s\n%s", r, out)
	}
	bad := job(t, res, "bad")
	if bad.Result != "failure" || !strings.HasPrefix(bad.Error, "test.yaml:14:14: runs-on: evaluation: ") || len(bad.Steps) != 0 {
		t.Errorf("job bad: %s %q %d steps\n%s", bad.Result, bad.Error, len(bad.Steps), out)
	}
}
