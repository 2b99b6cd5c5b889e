package workflow

import (
	"strings"
	"testing"
)

func TestParseAction(t *testing.T) {
	a, errs := ParseAction("action.yml", []byte(`name: hello
description: says hello
inputs:
  who:
    description: whom to greet
    required: true
    default: ${{ github.actor }}
  old:
    deprecationMessage: use who
outputs:
  greeting:
    value: ${{ steps.s.outputs.g }}
runs:
  using: composite
  steps:
    - id: s
      run: echo "g=hi" >> "$GITHUB_OUTPUT"
      shell: bash
    - uses: ./other
`))
	if errs != nil {
		t.Fatal(errs)
	}
	if !a.Runs.IsComposite() || len(a.Runs.Steps) != 2 || a.Input("WHO") == nil || !a.Input("who").IsRequired() ||
		a.Input("who").Default.Raw != "${{ github.actor }}" || a.Input("old").DeprecationMessage != "use who" ||
		a.Outputs[0].Value.Raw != "${{ steps.s.outputs.g }}" || a.Outputs[0].Value.Line != 12 {
		t.Errorf("parsed %+v", a)
	}
	node, errs := ParseAction("action.yml", []byte("runs:\n  using: node20\n  main: dist/index.js\n  post: dist/post.js\n  post-if: failure()\n"))
	if errs != nil || !node.Runs.IsNode() || node.Runs.Main.Raw != "dist/index.js" || node.Runs.PostIf.Raw != "failure()" {
		t.Errorf("node action: %+v %v", node, errs)
	}
}

func TestParseActionErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"name: x\n", `a.yml:1:1: action: "runs" is missing [syntax]`},
		{"runs:\n  main: x.js\n", `a.yml:2:3: runs: "using" is missing`},
		{"runs:\n  using: node99\n", `a.yml:2:10: runs.using: unknown value "node99"`},
		{"runs:\n  using: node20\n", `a.yml:2:3: runs: "main" is missing`},
		{"runs:\n  using: node20\n  main: a.js\n  steps: []\n", `a.yml:4:3: runs.steps does not apply to an action that runs using node20`},
		{"runs:\n  using: composite\n", `a.yml:2:3: runs: "steps" is missing`},
		{"runs:\n  using: composite\n  steps:\n    - run: echo\n", `a.yml:4:12: runs.steps step 1: a composite action's run step needs "shell"`},
		{"runs:\n  using: composite\n  steps:\n    - run: echo\n      shell: sh\n      timeout-minutes: 1\n", `a.yml:6:24: runs.steps step 1: "timeout-minutes" is not available`},
		{"outputs:\n  o: {description: x}\nruns:\n  using: composite\n  steps: [{run: x, shell: sh}]\n", `a.yml:2:3: outputs.o: a composite action's output needs a "value"`},
		{"inputs:\n  a: {requird: true}\nruns: {using: node20, main: a.js}\n", `a.yml:2:7: unknown key "requird" in inputs.a; did you mean "required"?`},
		{"runs: [\n", `a.yml:`},
	} {
		_, errs := ParseAction("a.yml", []byte(tc.src))
		if errs == nil || !strings.Contains(errs.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.src, errs, tc.want)
		}
	}
}

func TestParseActionRef(t *testing.T) {
	for _, tc := range []struct {
		uses                              string
		local                             bool
		path, owner, repo, version, image string
		err                               string
	}{
		{uses: "./", local: true},
		{uses: "./.github/actions/x", local: true, path: ".github/actions/x"},
		{uses: "actions/setup-go@v5", owner: "actions", repo: "setup-go", version: "v5"},
		{uses: "o/r/a/b@main", owner: "o", repo: "r", path: "a/b", version: "main"},
		{uses: "docker://alpine:3", image: "alpine:3"},
		{uses: "o/r", err: "expected"},
		{uses: "o/r@", err: "expected"},
		{uses: "o@v1", err: "expected owner/repo"},
		{uses: "o/r/../x@v1", err: ". or .."},
		{uses: "./x@v1", err: "takes no @ref"},
	} {
		r, err := ParseActionRef(tc.uses)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.uses, err, tc.err)
			}
			continue
		}
		if err != nil || r.Local != tc.local || r.Path != tc.path || r.Owner != tc.owner || r.Repo != tc.repo || r.Version != tc.version || r.Image != tc.image {
			t.Errorf("%s: %+v %v", tc.uses, r, err)
		}
	}
}
