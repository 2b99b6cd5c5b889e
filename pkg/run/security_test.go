package run_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/testenv"
	"github.com/birdflock/runner/pkg/workflow"
)

// runLog is everything a run left: live output and every file of its run
// directory (job logs, summary.json).
func runLog(t *testing.T, res *run.Result, out string) string {
	t.Helper()
	var all bytes.Buffer
	all.WriteString(out)
	filepath.Walk(res.Dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			all.Write(data)
		}
		return nil
	})
	return all.String()
}

// Runner's own variables (serve's token and webhook secret, the registry
// mirror setting) never reach a `run:` step; the user's other variables
// do under exec's default environment.
func TestStepsDoNotInheritRunnersVariables(t *testing.T) {
	t.Setenv("RUNNER_TOKEN", "tok-9f8e7d6c5b")
	t.Setenv("RUNNER_WEBHOOK_SECRET", "whs-1a2b3c4d5e")
	t.Setenv("RUNNER_REGISTRY_MIRROR", "docker.io=http://127.0.0.1:5999")
	t.Setenv("USERS_OWN_VAR", "kept-for-exec")
	wf := `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: env | sort
`
	res, out := runWF(t, context.Background(), wf, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("%s\n%s", res.Conclusion, out)
	}
	all := runLog(t, res, out)
	for _, leak := range []string{"tok-9f8e7d6c5b", "whs-1a2b3c4d5e", "RUNNER_TOKEN=", "RUNNER_WEBHOOK_SECRET=", "RUNNER_REGISTRY_MIRROR=", "127.0.0.1:5999"} {
		if strings.Contains(all, leak) {
			t.Errorf("a step saw runner's %q:\n%s", leak, all)
		}
	}
	for _, want := range []string{"USERS_OWN_VAR=kept-for-exec", "PATH=", "RUNNER_TEMP=", "GITHUB_WORKSPACE="} {
		if !strings.Contains(out, want) {
			t.Errorf("a step lacks %q:\n%s", want, out)
		}
	}

	// A service's steps start from a minimal environment.
	res, out = runWF(t, context.Background(), wf, run.Trigger{}, run.Options{Env: run.MinimalEnv(os.Environ())})
	if strings.Contains(out, "USERS_OWN_VAR") || strings.Contains(out, "tok-9f8e7d6c5b") || !strings.Contains(out, "PATH="+os.Getenv("PATH")) {
		t.Errorf("minimal environment:\n%s", out)
	}
}

// probe is a built-in that prints what it sees of runner's settings and
// environment.
type probe struct{}

func (probe) Spec() steps.Spec { return steps.Spec{Name: "probe"} }
func (probe) Run(_ context.Context, s *steps.Context) error {
	s.Logf("mirror setting: [%s]", s.Getenv("RUNNER_REGISTRY_MIRROR"))
	s.Logf("buildkit setting: [%s]", s.Getenv("BUILDKIT_HOST"))
	s.Logf("token in env: [%s]", s.Env["RUNNER_TOKEN"])
	s.AddMask("derived-credential-77")
	s.Logf("after AddMask: derived-credential-77")
	return nil
}

// Built-ins get runner's settings through an explicit value, not through
// the process environment that `run:` steps would inherit; AddMask takes
// effect at once.
func TestBuiltinsGetSettingsExplicitly(t *testing.T) {
	t.Setenv("RUNNER_TOKEN", "tok-9f8e7d6c5b")
	t.Setenv("RUNNER_REGISTRY_MIRROR", "docker.io=http://127.0.0.1:5998")
	set := steps.NewSet(probe{})
	w, errs := workflow.Load("t.yaml", []byte("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: probe\n      - run: echo \"[$RUNNER_REGISTRY_MIRROR]\"\n"), workflow.Options{Builtins: set})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	out := &testenv.Buffer{}
	plan, err := run.NewPlan(w, run.Trigger{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := run.Run(context.Background(), plan, run.Options{Builtins: set, StateDir: t.TempDir(), Out: out, Settings: steps.Settings{RegistryMirror: "docker.io=http://127.0.0.1:5000", BuildkitHost: "unix:///run/bk.sock"}})
	if err != nil || res.Conclusion != "success" {
		t.Fatalf("%v %v\n%s", err, res, out)
	}
	all := runLog(t, res, out.String())
	for _, want := range []string{"mirror setting: [docker.io=http://127.0.0.1:5000]", "buildkit setting: [unix:///run/bk.sock]", "token in env: []", "| []", "after AddMask: ***"} {
		if !strings.Contains(all, want) {
			t.Errorf("output lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "derived-credential-77") || strings.Contains(all, "5998") {
		t.Errorf("leak:\n%s", all)
	}
}

// Credentials runner holds for itself are masked wherever they appear, even
// when a step finds them on its own (here: in a file).
func TestRunnerCredentialsMasked(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("token: serve-token-31415\nurl: https://bot:repo-pass-27182@git.example/x.git\n"), 0o600)
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: cat `+dir+`/config.yaml; echo "${{ github.repository }}"
`, run.Trigger{Repo: run.Repo{Path: "https://bot:repo-pass-27182@git.example/x.git"}}, run.Options{Credentials: []string{"serve-token-31415"}})
	all := runLog(t, res, out)
	if strings.Contains(all, "serve-token-31415") || strings.Contains(all, "repo-pass-27182") {
		t.Errorf("a credential leaked:\n%s", all)
	}
	if !strings.Contains(out, "token: ***") {
		t.Errorf("no masked line:\n%s", out)
	}
}

// A URL that does not parse must not show its parts in the step's error:
// url.Parse quotes the port, which here is the start of the token.
func TestURLErrorsDoNotEchoCredentials(t *testing.T) {
	secret := "s3cr3t/tail-of-token"
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - uses: checkout
        with:
          repository: https://x-access-token:${{ secrets.TOK }}@127.0.0.1:1/repo.git
`, run.Trigger{}, run.Options{Secrets: map[string]string{"TOK": secret}})
	all := runLog(t, res, out)
	if job(t, res, "a").Result != "failure" {
		t.Fatalf("checkout of a bad URL succeeded:\n%s", all)
	}
	for _, leak := range []string{"s3cr3t", "tail-of-token"} {
		if strings.Contains(all, leak) {
			t.Errorf("%q leaked:\n%s", leak, all)
		}
	}
}

// A line longer than the cut (1 MiB) that holds a secret across the cut is
// still masked: the secret's first half arrives in the read that crosses
// the cut, its second half later.
func TestLongLineSplitSecretMasked(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          head -c $((1048576 - 5)) /dev/zero | tr '\0' x
          sleep 0.3
          printf '%s' "${S%%-*}-"
          sleep 0.3
          printf '%s' "${S#*-}"
          echo
          echo after-long-line
        env:
          S: ${{ secrets.S }}
`, run.Trigger{}, run.Options{Secrets: map[string]string{"S": "splitsecret-0123456789"}})
	all := runLog(t, res, out)
	for _, leak := range []string{"splitsecret", "0123456789"} {
		if strings.Contains(all, leak) {
			t.Errorf("%q leaked", leak)
		}
	}
	if !strings.Contains(out, "x***") || !strings.Contains(out, "after-long-line") {
		t.Errorf("the long line is not there, masked:\n%s", lastLines(out, 3))
	}
}

// A step's log stops at the cap, with a note; workflow commands still
// work past it, and the next step logs again.
func TestStepLogCapped(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          for i in $(seq 1 3000); do printf 'line %04d %0100d\n' $i 0; done
          echo "::add-mask::added-after-cap"
          echo "v=after" >> "$GITHUB_OUTPUT"
        id: big
      - run: echo "next-step-logs added-after-cap ${{ steps.big.outputs.v }}"
`, run.Trigger{}, run.Options{StepLogLimit: 64 << 10})
	all := runLog(t, res, out)
	if strings.Contains(all, "line 3000") || !strings.Contains(all, "line 0001") {
		t.Errorf("the step log was not capped")
	}
	if !strings.Contains(out, "the step's log reached its limit of 64 KiB") || !strings.Contains(out, "next-step-logs *** after") {
		t.Errorf("no truncation note, or the next step lost its log:\n%s", lastLines(out, 10))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 200 {
			lines[i] = l[:100] + " … " + l[len(l)-100:]
		}
	}
	return strings.Join(lines, "\n")
}

// requireRoot: job cgroups need root. Under CI=true (where tests run as
// root) a missing root is a failure, elsewhere a skip.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root: job cgroups")
	}
}

// Processes that leave the job's process group, session and environment
// still end with the job: they are in the job's cgroup.
func TestEscapedProcessesEndWithJob(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          setsid -f sh -c 'echo $$ > `+dir+`/setsid; exec sleep 300' > /dev/null 2>&1
          env -i /usr/bin/setsid -f /bin/sh -c 'echo $$ > `+dir+`/envi; exec sleep 300' > /dev/null 2>&1
          env -i /bin/sh -c 'echo $$ > `+dir+`/bg; exec sleep 300' > /dev/null 2>&1 &
          for f in setsid envi bg; do while [ ! -s `+dir+`/$f ]; do sleep 0.01; done; done
`, run.Trigger{}, run.Options{})
	if res.Conclusion != "success" {
		t.Fatalf("%s\n%s", res.Conclusion, out)
	}
	for _, f := range []string{"setsid", "envi", "bg"} {
		assertDead(t, filepath.Join(dir, f))
	}
}
