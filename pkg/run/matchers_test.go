package run_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/run"
)

// matchersStep copies the problem matcher files of testdata/matchers (as
// actions/setup-go and actions/setup-node ship them) into the workspace.
func matchersStep(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs("testdata/matchers")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("      - run: cp -r '%s' .matchers\n", src)
}

// setup-go's matcher turns go build's "./main.go:3:5: undefined: x" into
// an error annotation on main.go, line 3, column 5, in the step that added
// it and the later ones, and the line is still printed; after
// remove-matcher the same kind of line is only printed.
func TestProblemMatcherGoBuild(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
`+matchersStep(t)+`
      - name: add
        run: |
          printf 'package main\n\nfunc main() { x }\n' > main.go
          echo "::add-matcher::.matchers/setup-go.json"
          echo "./main.go:3:5: undefined: x"
      - name: later
        run: |
          echo "./main.go:1:1: expected 'package'"
          echo "./nowhere.go:7:2: not a file here"
          echo "::remove-matcher owner=go::"
          echo "./main.go:2:9: after removal"
`, run.Trigger{}, run.Options{})
	if j := job(t, res, "a"); j.Result != "success" {
		t.Errorf("job %s, want success (annotations from matchers do not fail a step)\n%s", j.Result, out)
	}
	for _, want := range []string{
		"./main.go:3:5: undefined: x",
		"Error: main.go:3:5: undefined: x",
		"Error: main.go:1:1: expected 'package'",
		// a file that does not exist is dropped, as on GitHub
		"Error: not a file here",
		"./main.go:2:9: after removal",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if strings.Contains(out, "Error: main.go:2:9") {
		t.Errorf("a removed matcher still annotates\n%s", out)
	}
}

// eslint's stylish output is a file line followed by its problems: the
// loop pattern makes one annotation per problem line, all on that file,
// with the severity the line gives; an "info" one is not annotated.
func TestProblemMatcherLoopESLintStylish(t *testing.T) {
	_, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
`+matchersStep(t)+`
      - run: mkdir src && touch src/a.js src/b.js && echo "::add-matcher::$GITHUB_WORKSPACE/.matchers/eslint-stylish.json"
      - run: |
          echo
          echo "$GITHUB_WORKSPACE/src/a.js"
          echo "  1:10  error    'x' is defined but never used  no-unused-vars"
          echo "  2:1   warning  Unexpected console statement   no-console"
          echo "  3:1   info     Just so you know               some-rule"
          echo
          printf '\033[4m%s\033[24m\n' "src/b.js"
          echo "  9:3  error  Missing semicolon  semi"
          echo
          echo "✖ 4 problems (2 errors, 1 warning)"
`, run.Trigger{}, run.Options{})
	for _, want := range []string{
		"Error: src/a.js:1:10: 'x' is defined but never used",
		"Warning: src/a.js:2:1: Unexpected console statement",
		"Error: src/b.js:9:3: Missing semicolon",
		"  1:10  error    'x' is defined but never used  no-unused-vars",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if strings.Contains(out, "Just so you know:") || strings.Contains(out, ": Just so you know") {
		t.Errorf("an info line was annotated\n%s", out)
	}
	if n := strings.Count(out, "Error: ") + strings.Count(out, "Warning: ") + strings.Count(out, "Notice: "); n != 3 {
		t.Errorf("%d annotations, want 3\n%s", n, out)
	}
}

// A matcher file that is not valid JSON, or that is outside the workspace
// and the actions' folders, is an error annotation naming it (with line
// and column for JSON), and fails the step as on GitHub.
func TestProblemMatcherBadFile(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "outside.json")
	if err := os.WriteFile(outside, []byte(`{"problemMatcher": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - id: bad
        continue-on-error: true
        run: |
          printf '{\n  "problemMatcher": [\n    {"owner": "x",,}\n  ]\n}\n' > bad.json
          echo "::add-matcher::bad.json"
      - id: nomessage
        continue-on-error: true
        run: |
          echo '{"problemMatcher": [{"owner": "m", "pattern": [{"regexp": "^(.*)$", "file": 1}]}]}' > nomsg.json
          echo "::add-matcher::nomsg.json"
      - id: outside
        continue-on-error: true
        run: echo "::add-matcher::`+outside+`"
      - id: missing
        continue-on-error: true
        run: echo "::add-matcher::missing.json"
`, run.Trigger{}, run.Options{})
	for _, want := range []string{
		"Error: bad.json:3:19: invalid character ',' looking for beginning of object key string",
		"Error: nomsg.json: matcher 'm': at least one pattern must set 'message'",
		"Error: " + outside + ": a matcher file must be in the workspace",
		"Error: missing.json: no such file or directory",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	j := job(t, res, "a")
	failed := 0
	for _, s := range j.Steps {
		if s.Outcome == "failure" {
			failed++
		}
	}
	if failed != 4 {
		t.Errorf("%d steps failed, want the 4 with a bad matcher file\n%s", failed, out)
	}
}

// An action registers a matcher file from its own folder by absolute path
// (setup-go does); a symbolic link in the workspace that points outside
// does not let a step read a file there.
func TestProblemMatcherFromActionFolder(t *testing.T) {
	src, err := filepath.Abs("testdata/matcherremote")
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "m.json"), []byte(`{"problemMatcher": [{"owner": "o", "pattern": [{"regexp": "^(.*)$", "message": 1}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - uses: acme/gomatcher@v1
      - run: |
          touch main.go
          echo "./main.go:3:5: undefined: x"
      - id: link
        continue-on-error: true
        run: |
          ln -s '`+outside+`' link
          echo "::add-matcher::$GITHUB_WORKSPACE/link/m.json"
`, run.Trigger{}, run.Options{Actions: &actions.Resolver{StateDir: t.TempDir(), Source: actions.Source{Dir: src}}})
	if !strings.Contains(out, "Error: main.go:3:5: undefined: x") {
		t.Errorf("the matcher the action added does not annotate\n%s", out)
	}
	if !strings.Contains(out, "/link/m.json: no such file or directory") {
		t.Errorf("the matcher file behind a link out of the workspace was not refused\n%s", out)
	}
	if s := job(t, res, "a").Steps; s[len(s)-1].Outcome != "failure" {
		t.Errorf("the link step: outcome %s, want failure", s[len(s)-1].Outcome)
	}
}

// setup-go, setup-node and setup-python print the older form,
// ##[add-matcher]PATH (core.info), and ##[remove-matcher owner=NAME];
// the form is taken at the start of a line only, so a line that merely
// mentions it registers nothing.
func TestProblemMatcherLegacyCommandForm(t *testing.T) {
	_, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
`+matchersStep(t)+`
      - run: |
          touch main.go
          echo "docs say: ##[add-matcher].matchers/tsc.json"
          echo "##[add-matcher]$GITHUB_WORKSPACE/.matchers/setup-go.json"
          echo "./main.go:3:5: undefined: x"
          echo "main.go(1,1): error TS1005: not registered"
          echo "##[remove-matcher owner=go]"
          echo "./main.go:4:1: after removal"
`, run.Trigger{}, run.Options{})
	if !strings.Contains(out, "Error: main.go:3:5: undefined: x") {
		t.Errorf("##[add-matcher] did not register the matcher\n%s", out)
	}
	if strings.Contains(out, "Error: main.go:1:1") {
		t.Errorf("a mid-line ##[add-matcher] registered a matcher\n%s", out)
	}
	if strings.Contains(out, "Error: main.go:4:1") {
		t.Errorf("##[remove-matcher owner=go] did not remove it\n%s", out)
	}
	if !strings.Contains(out, "##[add-matcher]/") {
		t.Errorf("the command line is not printed\n%s", out)
	}
}
