package kube_test

import (
	"path/filepath"
	"strings"
	"testing"

	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/kubetest"
)

// TestCalledWorkflowLegsInPods: the legs of a called reusable workflow
// run in pods as the caller's do: inputs of each type, secrets: inherit,
// a matrix in the callee, a nested call, a container: and a test-image in
// a callee's leg, outputs back to the caller, the caller's github
// context; no pod is left once runner exec returns.
func TestCalledWorkflowLegsInPods(t *testing.T) {
	c := kubetest.Shared(t)
	const secret = "wren-audit-secret"
	r := newExecRepo(t, c, map[string]string{
		".github/workflows/caller.yaml": `name: Caller
on: push
jobs:
  call:
    uses: ./.github/workflows/middle.yaml
    with:
      word: wren
      times: 3
      loud: true
    secrets: inherit
  after:
    needs: call
    runs-on: ubuntu-latest
    steps:
      - run: echo "the callee said ${{ needs.call.outputs.said }}"
`,
		".github/workflows/middle.yaml": `name: Middle
on:
  workflow_call:
    inputs:
      word: {type: string, required: true}
      times: {type: number}
      loud: {type: boolean}
    outputs:
      said: {value: "${{ jobs.inner.outputs.said }}"}
jobs:
  inner:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
    container:
      image: busybox
      env:
        PASS: ${{ secrets.TOKEN }}
    outputs:
      said: ${{ steps.s.outputs.said }}
    steps:
      - id: s
        run: |
          test "$PASS" = ` + secret + ` && echo "the inherited secret reached leg ${{ matrix.n }}"
          echo "leg ${{ matrix.n }} says ${{ inputs.word }} x${{ inputs.times }} loud=${{ inputs.loud == true }} in ${{ github.workflow }} on $(hostname)"
          echo "said=${{ inputs.word }}-${{ inputs.times }}" >> "$GITHUB_OUTPUT"
  deeper:
    uses: ./.github/workflows/inner.yaml
    with:
      greeting: hello-${{ inputs.word }}
`,
		".github/workflows/inner.yaml": `name: Inner
on:
  workflow_call:
    inputs:
      greeting: {type: string}
jobs:
  probe:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: test-image
        with:
          archive: site.tar
          expect-body: hello
      - run: echo "nested ${{ inputs.greeting }} in ${{ github.workflow }} from $(hostname)"
`,
	}, "")
	ct.Archive(t, ct.HTTPDImage(t, "8080", "hello"), filepath.Join(r.dir, "site.tar"))
	r.commit()
	out, code := r.exec("caller", "--secret", "TOKEN="+secret)
	t.Logf("runner exec caller:\n%s", out)
	if left := pods(t, c, r.tr.Client.Namespace); len(left) > 0 {
		t.Errorf("pods left after runner exec returned: %v", left)
	}
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	for _, want := range []string{
		"the inherited secret reached leg 1",
		"the inherited secret reached leg 2",
		"leg 1 says wren x3 loud=true in Caller on runner-inner-",
		"leg 2 says wren x3 loud=true in Caller on runner-inner-",
		"nested hello-wren in Caller from runner-probe-",
		"the callee said wren-3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if strings.Contains(out, secret) {
		t.Errorf("the secret is in the output")
	}
}
