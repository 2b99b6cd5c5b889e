package run_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/testenv"
)

const actionToken = "ghs_setupT0kenValue1122334455"

// actionServer serves remote actions from a git server (git's
// http-backend behind the token): each repository alice/NAME holds the
// files given, tagged v1. It returns the resolver to run with and the
// commits by repository.
func actionServer(t *testing.T, repos map[string]map[string]string) (*gittest.HTTPServer, *actions.Resolver, map[string]string) {
	t.Helper()
	root := t.TempDir()
	commits := map[string]string{}
	for name, files := range repos {
		bare := filepath.Join(root, "alice", name+".git")
		c := gittest.Origin(t, bare, files)
		r, err := git.PlainOpen(bare)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.CreateTag("v1", plumbing.NewHash(c), nil); err != nil {
			t.Fatal(err)
		}
		commits[name] = c
	}
	srv := gittest.ServeHTTP(t, root, gitrepo.TokenUser, actionToken)
	return srv, &actions.Resolver{StateDir: testenv.WritableTempDir(t), Source: actions.Source{URL: srv.URL + "/{owner}/{repo}.git"}}, commits
}

func composite(steps string) string {
	return "name: c\ninputs:\n  who:\n    required: true\n  opt:\n    default: x\nruns:\n  using: composite\n  steps:\n" + steps
}

// TestSetUpResolvesActions: before the first step, the job resolves its
// remote actions and those nested in composite ones, prints GitHub's
// "Download action repository" lines, and warns once about an unknown
// input. A second run with the server gone resolves from the cache and
// says so.
func TestSetUpResolvesActions(t *testing.T) {
	srv, resolver, commits := actionServer(t, map[string]map[string]string{
		"outer": {"action.yml": composite("    - uses: alice/inner@v1\n      with:\n        who: nested\n    - run: echo outer-ran\n      shell: bash\n")},
		"inner": {"action.yml": composite("    - run: echo inner-ran\n      shell: bash\n")},
	})
	wf := `
on: push
jobs:
  build:
    runs-on: x
    steps:
      - run: echo first-step-ran
      - uses: alice/outer@v1
        with:
          who: me
          extra: 1
`
	opts := run.Options{Actions: resolver, Secrets: map[string]string{"GITHUB_TOKEN": actionToken}}
	_, out := runWF(t, context.Background(), wf, run.Trigger{}, opts)
	var want []string
	for _, name := range []string{"outer", "inner"} {
		want = append(want, fmt.Sprintf("Download action repository 'alice/%s@v1' (SHA:%s)", name, commits[name]))
	}
	want = append(want, "first-step-ran")
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("output lacks %q after offset %d:\n%s", w, at, out)
		}
		at += i
	}
	if n := strings.Count(out, "Unexpected input(s) 'extra', valid inputs are ['opt', 'who']"); n != 1 {
		t.Errorf("the unknown input was warned about %d times:\n%s", n, out)
	}
	if strings.Contains(out, "cached resolution") {
		t.Errorf("online run used the cache:\n%s", out)
	}

	srv.Close()
	_, out = runWF(t, context.Background(), wf, run.Trigger{}, opts)
	for _, w := range []string{
		"Download action repository 'alice/outer@v1' (SHA:" + commits["outer"] + ")",
		"alice/outer@v1: used the cached resolution of v1 from ",
		"alice/inner@v1: used the cached resolution of v1 from ",
		"first-step-ran",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("offline run: output lacks %q:\n%s", w, out)
		}
	}
}

// TestSetUpFailures: a missing or invalid action, or a required input not
// given, fails the job at set-up with the position of the uses: and the
// reason; no step runs, not even the ones before.
func TestSetUpFailures(t *testing.T) {
	deep := map[string]string{}
	for i := 1; i <= 11; i++ {
		deep[fmt.Sprintf("a%d/action.yml", i)] = composite(fmt.Sprintf("    - uses: alice/deep/a%d@v1\n      with:\n        who: x\n", i+1))
	}
	deep["a12/action.yml"] = composite("    - run: echo leaf\n      shell: bash\n")
	_, resolver, _ := actionServer(t, map[string]map[string]string{
		"hello":   {"action.yml": composite("    - run: echo hi\n      shell: bash\n")},
		"broken":  {"action.yml": "name: b\nruns:\n  using: node99\n  main: x.js\n"},
		"empty":   {"README.md": "no action here\n"},
		"outer":   {"action.yml": composite("    - run: echo hi\n      shell: bash\n    - uses: alice/hello@nope\n")},
		"cycle":   {"action.yml": composite("    - uses: alice/cycle2@v1\n      with:\n        who: x\n")},
		"cycle2":  {"action.yml": composite("    - uses: alice/cycle@v1\n      with:\n        who: x\n")},
		"deep":    deep,
		"private": {"action.yml": composite("    - run: echo hi\n      shell: bash\n")},
	})
	for name, tc := range map[string]struct {
		uses, with, token string
		want              []string
	}{
		"bad ref":          {uses: "alice/hello@nope", want: []string{`test.yaml:9:15: alice/hello@nope: "nope" is not a tag, a branch or a full commit SHA of http://127.0.0.1`}},
		"short sha":        {uses: "alice/hello@abc1234", want: []string{"alice/hello@abc1234: \"abc1234\" looks like a shortened commit SHA"}},
		"missing repo":     {uses: "alice/missing@v1", want: []string{"test.yaml:9:15: alice/missing@v1: http://127.0.0.1", "/alice/missing.git: no such repository"}},
		"action.yml error": {uses: "alice/broken@v1", want: []string{"test.yaml:9:15: ", `action.yml:3:10: runs.using: unknown value "node99"`}},
		"no action.yml":    {uses: "alice/empty@v1", want: []string{"test.yaml:9:15: alice/empty@v1: no action.yml or action.yaml in "}},
		"required input":   {uses: "alice/hello@v1", want: []string{`test.yaml:9:15: input "who" is required by alice/hello@v1 and was not given`}},
		"nested bad ref":   {uses: "alice/outer@v1", with: "who: x", want: []string{"test.yaml:9:15: in alice/outer@v1: " + resolver.StateDir + "/actions/alice/outer/", `action.yml:12:13: alice/hello@nope: "nope" is not a tag`}},
		"cycle":            {uses: "alice/cycle@v1", with: "who: x", want: []string{"uses itself: alice/cycle@v1 → alice/cycle2@v1 → alice/cycle@v1"}},
		"too deep":         {uses: "alice/deep/a1@v1", with: "who: x", want: []string{"composite actions nest more than 10 deep", "alice/deep/a10@v1 → alice/deep/a11@v1"}},
		"wrong token":      {uses: "alice/private@v1", with: "who: x", token: "ghs_wrongT0ken999", want: []string{"alice/private@v1: http://127.0.0.1", "refused the token"}},
	} {
		t.Run(name, func(t *testing.T) {
			with := ""
			if tc.with != "" {
				with = "\n        with:\n          " + tc.with
			}
			wf := `
on: push
jobs:
  build:
    runs-on: x
    steps:
      - run: echo first-step-ran
      - run: echo second-step-ran
      - uses: ` + tc.uses + with + "\n"
			token := actionToken
			if tc.token != "" {
				token = tc.token
			}
			res, out := runWF(t, context.Background(), wf, run.Trigger{}, run.Options{Actions: resolver, Secrets: map[string]string{"GITHUB_TOKEN": token}})
			j := job(t, res, "build")
			if j.Result != "failure" || len(j.Steps) != 0 || strings.Contains(out, "step-ran") {
				t.Fatalf("result %s, %d steps:\n%s", j.Result, len(j.Steps), out)
			}
			for _, w := range tc.want {
				if !strings.Contains(j.Error, w) || !strings.Contains(out, w) {
					t.Errorf("error lacks %q:\n%s\n%s", w, j.Error, out)
				}
			}
			if strings.Contains(out, token) || strings.Contains(j.Error, token) {
				t.Errorf("token in the output or error")
			}
		})
	}
}
