package run_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/gitrepo/gittest"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/testenv"
	"github.com/birdflock/runner/pkg/workflow"
)

var (
	legBinOnce sync.Once
	legBin     string
	legBinErr  error
)

// runnerForLegs is the runner binary of this tree, built once a test
// binary run: the remote end of the process transport (runner job
// --stdio). It goes to one place per source tree in the temp dir, each
// build replacing the last (no binary left behind per run).
func runnerForLegs(t *testing.T) string {
	t.Helper()
	legBinOnce.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			legBinErr = err
			return
		}
		sum := sha256.Sum256([]byte(root))
		dir := filepath.Join(os.TempDir(), "runner-legs-"+hex.EncodeToString(sum[:6]))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			legBinErr = err
			return
		}
		legBin = filepath.Join(dir, "runner")
		cmd := exec.Command("go", "build", "-o", legBin, "./cmd/runner")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			legBinErr = fmt.Errorf("go build ./cmd/runner: %v\n%s", err, out)
		}
	})
	if legBinErr != nil {
		t.Fatal(legBinErr)
	}
	return legBin
}

// tapTransport is the process transport with the child's stdout copied
// aside: the frames as they travelled.
type tapTransport struct {
	run.ProcessTransport
	note   string // when set, each leg's Log gets note and the leg's key
	mu     sync.Mutex
	frames bytes.Buffer // what the remotes wrote
	input  bytes.Buffer // what they were sent
}

func (tt *tapTransport) Open(ctx context.Context, leg run.LegInfo) (run.LegConn, error) {
	if tt.note != "" {
		leg.Log(tt.note + " " + leg.Key)
	}
	c, err := tt.ProcessTransport.Open(ctx, leg)
	if err != nil {
		return nil, err
	}
	return tapConn{c, io.TeeReader(c.Stdout(), lockedWriter{&tt.mu, &tt.frames}), teeWriteCloser{c.Stdin(), lockedWriter{&tt.mu, &tt.input}}}, nil
}

func (tt *tapTransport) sent() string {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.input.String()
}

// teeWriteCloser copies what is written to w to tap as well.
type teeWriteCloser struct {
	w   io.WriteCloser
	tap io.Writer
}

func (t teeWriteCloser) Write(p []byte) (int, error) {
	t.tap.Write(p)
	return t.w.Write(p)
}

func (t teeWriteCloser) Close() error { return t.w.Close() }

func (tt *tapTransport) tapped() string {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.frames.String()
}

type tapConn struct {
	run.LegConn
	out io.Reader
	in  io.WriteCloser
}

func (c tapConn) Stdout() io.Reader     { return c.out }
func (c tapConn) Stdin() io.WriteCloser { return c.in }

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// legRun is one run of a workflow for the comparisons: its result, console
// output, events by job and record directory.
type legRun struct {
	res    *run.Result
	out    string
	events map[string][]string
}

// runLegs runs src with opts, locally or (remote) through tt.
func runLegs(t *testing.T, ctx context.Context, src string, trig run.Trigger, opts run.Options, tt *tapTransport) legRun {
	t.Helper()
	builtins := steps.Default()
	w, errs := workflow.Load("test.yaml", []byte(src), workflow.Options{Builtins: builtins})
	if len(errs) > 0 {
		t.Fatalf("invalid workflow:\n%v", errs)
	}
	plan, err := run.NewPlan(w, trig)
	if err != nil {
		t.Fatal(err)
	}
	plan.Source = []byte(src)
	out := &testenv.Buffer{}
	var mu sync.Mutex
	events := map[string][]string{}
	console := run.NewConsole(out, false, false)
	opts.Observer = run.ObserverFunc(func(e run.Event) {
		console.Observe(e)
		mu.Lock()
		ev := fmt.Sprintf("%s|%s|%s|%s", e.Kind, e.Step, e.Status, normalize(e.Text))
		if e.Kind == run.JobStarted || e.Kind == run.JobEnded {
			ev += fmt.Sprintf("|leg %d", e.Leg)
		}
		if e.Annotation != nil {
			ev += fmt.Sprintf("|%+v", *e.Annotation)
		}
		events[e.Job] = append(events[e.Job], ev)
		mu.Unlock()
	})
	opts.Builtins = builtins
	opts.KillGrace = 500 * time.Millisecond
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	if tt != nil {
		opts.Remote = tt
		if opts.Env == nil {
			// The children's temporary state: a killed one leaves its
			// own behind, here removed with the test's.
			opts.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
		}
	}
	res, err := run.Run(ctx, plan, opts)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return legRun{res: res, out: out.String(), events: events}
}

var (
	pathLike = regexp.MustCompile(`(^|[\s"'=(])(/[^\s/'"]+)+/?`)
	stamp    = regexp.MustCompile(`(?m)^ *[0-9]+\.[0-9]{3} `)
)

// normalize drops what differs between two places a leg runs: absolute
// paths (workspaces, temp dirs), log timestamps.
func normalize(s string) string {
	return pathLike.ReplaceAllString(stamp.ReplaceAllString(s, ""), "${1}PATH")
}

// jobsOf is a run's jobs without what timing decides.
func jobsOf(res *run.Result) string {
	var b strings.Builder
	for _, j := range res.Jobs {
		fmt.Fprintf(&b, "%s name=%q result=%s error=%q outputs=%v cached=%v\n", j.Key, j.Name, j.Result, normalize(j.Error), j.Outputs, j.Cached != nil)
		for _, s := range j.Steps {
			fmt.Fprintf(&b, "  %s id=%s %s/%s error=%q\n", s.Name, s.ID, s.Outcome, s.Conclusion, normalize(s.Error))
		}
	}
	return b.String()
}

// record is a run directory's files (but summary.json and the event
// payload, compared through the result), normalized.
func record(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "summary.json" || rel == "event.json" {
			return nil
		}
		data, err := os.ReadFile(p)
		out[rel] = normalize(string(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// remoteRepo is a local git repository with two commits; the run is for
// the first (the second must not be what checkout gives).
func remoteRepo(t *testing.T) (dir, first string) {
	dir = t.TempDir()
	gittest.Init(t, dir)
	first = gittest.Commit(t, dir, map[string]string{"greeting.txt": "hello from the first commit\n"}, "first")
	gittest.Commit(t, dir, map[string]string{"greeting.txt": "second\n"}, "second")
	return dir, first
}

const remoteSecret = "s3cret-tok3n-8675309"

// The same workflow run locally and with every leg through the process
// transport (runner job --stdio, the real binary) gives the same job
// results, events, job logs, step summary and artifacts; secrets stay
// masked in the frames as in the logs; a remote leg's checkout of the
// local repository sees the run's commit.
func TestRemoteLegsMatchLocal(t *testing.T) {
	bin := runnerForLegs(t)
	repo, first := remoteRepo(t)
	src := `
on: push
jobs:
  build:
    runs-on: [self-hosted, linux]
    outputs:
      commit: ${{ steps.co.outputs.commit }}
      word: ${{ steps.w.outputs.word }}
    steps:
      - id: co
        uses: actions/checkout@v4
      - id: w
        run: |
          cat greeting.txt
          echo "origin-url $(git remote get-url origin)"
          echo "token is $TOK"
          echo "::warning title=Mind,file=src/a b.go,line=2,endLine=3,col=1,endColumn=9::seen $TOK"
          echo "word=bird" >> "$GITHUB_OUTPUT"
          echo "### built ${{ github.sha }}" >> "$GITHUB_STEP_SUMMARY"
          mkdir -p out/sub && echo payload > out/sub/data.txt && echo top > out/top.txt
        env:
          TOK: ${{ secrets.TOK }}
      - uses: actions/upload-artifact@v4
        with:
          name: bundle
          path: out
  test:
    needs: build
    runs-on: linux
    strategy:
      fail-fast: false
      matrix:
        n: [1, 2]
    steps:
      - run: echo "commit ${{ needs.build.outputs.commit }} word ${{ needs.build.outputs.word }} n=${{ matrix.n }}"
      - uses: actions/download-artifact@v4
        with:
          name: bundle
          path: got
      - run: cat got/sub/data.txt
      - name: fails on 2
        run: |
          echo "leg ${{ matrix.n }}"
          test "${{ matrix.n }}" != 2
      - if: failure()
        run: echo "after the failure"
`
	trig := run.Trigger{Repo: run.Repo{Path: repo, SHA: first, Ref: "refs/heads/main", Repository: "o/r"}}
	secrets := map[string]string{"TOK": remoteSecret}
	own := []string{"serve-api-token-31415"} // runner's own: never sent
	local := runLegs(t, context.Background(), src, trig, run.Options{Secrets: secrets, Credentials: own}, nil)
	tt := &tapTransport{ProcessTransport: run.ProcessTransport{Path: bin}}
	remote := runLegs(t, context.Background(), src, trig, run.Options{Secrets: secrets, Credentials: own}, tt)
	if sent := tt.sent(); !strings.Contains(sent, remoteSecret) || strings.Contains(sent, own[0]) {
		t.Errorf("the remotes were sent the secret: %v (want true), runner's own credential: %v (want false)", strings.Contains(sent, remoteSecret), strings.Contains(sent, own[0]))
	}

	if local.res.Conclusion != "failure" || remote.res.Conclusion != "failure" {
		t.Fatalf("conclusions local %s, remote %s; want failure (leg 2 fails)\nremote:\n%s", local.res.Conclusion, remote.res.Conclusion, remote.out)
	}
	if l, r := jobsOf(local.res), jobsOf(remote.res); l != r {
		t.Errorf("job results differ\nlocal:\n%s\nremote:\n%s\nremote output:\n%s", l, r, remote.out)
	}
	build := job(t, remote.res, "build")
	if build.Outputs["commit"] != first || build.Outputs["word"] != "bird" {
		t.Errorf("remote build outputs %v; want commit %s (the run's, not HEAD) and word bird", build.Outputs, first)
	}
	if !strings.Contains(remote.out, "hello from the first commit") {
		t.Errorf("the remote checkout did not see the first commit's file\n%s", remote.out)
	}
	// The clone's origin is where a local leg's would push: here the
	// repository itself (it has no origin remote).
	if !strings.Contains(remote.out, "origin-url "+repo+"\n") {
		t.Errorf("the remote checkout's origin is not %s\n%s", repo, remote.out)
	}
	if !strings.Contains(remote.out, "commit "+first+" word bird n=2") {
		t.Errorf("needs outputs did not reach the remote leg\n%s", remote.out)
	}
	if l, r := strings.Join(slices.Sorted(maps.Keys(local.events)), ","), strings.Join(slices.Sorted(maps.Keys(remote.events)), ","); l != r {
		t.Errorf("events for jobs %s locally, %s remotely", l, r)
	}
	for key, want := range local.events {
		if got := remote.events[key]; strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("events of %q differ\nlocal:\n%s\nremote:\n%s", key, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	}
	lr, rr := record(t, local.res.Dir), record(t, remote.res.Dir)
	for _, name := range []string{"build.log", "test_1_.log", "test_2_.log", "summary.md", "artifacts/bundle/sub/data.txt", "artifacts/bundle/top.txt"} {
		if _, ok := rr[name]; !ok {
			t.Errorf("the remote run's record lacks %s (has %v)", name, keys(rr))
		}
	}
	if strings.Join(keys(lr), " ") != strings.Join(keys(rr), " ") {
		t.Errorf("record files differ\nlocal:  %v\nremote: %v", keys(lr), keys(rr))
	}
	for name, l := range lr {
		if r := rr[name]; r != l {
			t.Errorf("%s differs\nlocal:\n%s\nremote:\n%s", name, l, r)
		}
	}
	frames := tt.tapped()
	if !strings.Contains(frames, `"Type":"result"`) || !strings.Contains(frames, "token is ***") {
		t.Errorf("the frames lack the result or the masked line:\n%.2000s", frames)
	}
	for what, text := range map[string]string{"frames": frames, "console": remote.out} {
		if strings.Contains(text, remoteSecret) {
			t.Errorf("the secret is in the %s", what)
		}
	}
	for name, text := range rr {
		if strings.Contains(text, remoteSecret) {
			t.Errorf("the secret is in the remote record's %s", name)
		}
	}
	summary, err := os.ReadFile(filepath.Join(remote.res.Dir, "summary.json"))
	if err != nil || strings.Contains(string(summary), remoteSecret) {
		t.Errorf("summary.json: %v, or it holds the secret", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The job cache stays with the controller: a remote leg's result, with
// the artifact and summary that came back in frames, is stored; the next
// run restores it without starting a remote leg, and the dependent remote
// leg gets the restored artifact.
func TestRemoteLegsUseTheControllersCache(t *testing.T) {
	bin := runnerForLegs(t)
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one", "front/g.txt": "x"})
	var mu sync.Mutex
	started := map[string]int{}
	tt := &tapTransport{ProcessTransport: run.ProcessTransport{Path: bin, Started: func(leg run.LegInfo, pid int) {
		mu.Lock()
		started[leg.Job]++
		mu.Unlock()
	}}}
	trig := run.Trigger{Repo: run.Repo{Path: e.repo, SHA: e.sha, Ref: "refs/heads/main", Repository: "o/r"}}
	first := runLegs(t, context.Background(), cachedBuild, trig, run.Options{StateDir: e.state, Cache: e.store}, tt)
	if first.res.Conclusion != "success" || !strings.Contains(first.out, "cache: stored") || !strings.Contains(first.out, "got=one file=one") {
		t.Fatalf("first run %s:\n%s", first.res.Conclusion, first.out)
	}
	second := runLegs(t, context.Background(), cachedBuild, trig, run.Options{StateDir: e.state, Cache: e.store}, tt)
	if hit, from := cached(t, second.res, "build"); !hit || from != first.res.ID {
		t.Fatalf("second run: hit %v from run %d; want a hit from run %d\n%s", hit, from, first.res.ID, second.out)
	}
	if !strings.Contains(second.out, "got=one file=one") {
		t.Errorf("the dependent remote leg did not get the restored output and artifact\n%s", second.out)
	}
	summary, _ := os.ReadFile(filepath.Join(second.res.Dir, "summary.md"))
	if !strings.Contains(string(summary), "## built one") {
		t.Errorf("restored summary.md: %q", summary)
	}
	mu.Lock()
	defer mu.Unlock()
	if started["build"] != 1 || started["use"] != 2 {
		t.Errorf("remote legs started %v; want build once (the hit starts none), use twice", started)
	}
}

// Long lines, a step summary of megabytes and bytes that are not UTF-8
// reach the run record of a remote leg as they reach a local one's.
func TestRemoteLargeAndBinaryOutput(t *testing.T) {
	bin := runnerForLegs(t)
	src := `
on: push
jobs:
  big:
    runs-on: x
    steps:
      - run: |
          head -c 900000 /dev/zero | tr '\0' 'x'; echo
          printf 'bin \xff\xfe end\n'
          (yes 'é summary line' || true) | head -c 2500001 >> "$GITHUB_STEP_SUMMARY"
`
	local := runLegs(t, context.Background(), src, run.Trigger{}, run.Options{}, nil)
	remote := runLegs(t, context.Background(), src, run.Trigger{}, run.Options{}, &tapTransport{ProcessTransport: run.ProcessTransport{Path: bin}})
	if local.res.Conclusion != "success" || remote.res.Conclusion != "success" {
		t.Fatalf("local %s, remote %s\n%.3000s", local.res.Conclusion, remote.res.Conclusion, remote.out)
	}
	lr, rr := record(t, local.res.Dir), record(t, remote.res.Dir)
	if len(lr["summary.md"]) < 2500000 || !strings.Contains(lr["big.log"], "bin \xff\xfe end") {
		t.Fatalf("the local run's record lacks the output: summary %d bytes", len(lr["summary.md"]))
	}
	for _, name := range []string{"summary.md", "big.log"} {
		if lr[name] != rr[name] {
			i := 0
			for i < len(lr[name]) && i < len(rr[name]) && lr[name][i] == rr[name][i] {
				i++
			}
			t.Errorf("%s differs: local %d bytes, remote %d bytes; from byte %d: local %q, remote %q", name, len(lr[name]), len(rr[name]), i, lr[name][max(i-40, 0):min(i+80, len(lr[name]))], rr[name][max(i-40, 0):min(i+80, len(rr[name]))])
		}
	}
}

// A leg through the process transport starts its steps from the run's
// Options.Env, as a local leg does, not from the process environment of
// the controller (runner serve passes a minimal one).
func TestRemoteLegEnvironment(t *testing.T) {
	bin := runnerForLegs(t)
	t.Setenv("CONTROLLER_ONLY", "leaked")
	src := `
on: push
jobs:
  env:
    runs-on: x
    steps:
      - run: echo "given=${GIVEN-unset} controller=${CONTROLLER_ONLY-unset}"
`
	opts := run.Options{Env: []string{"PATH=" + os.Getenv("PATH"), "GIVEN=yes", "RUNNER_OWN=dropped"}}
	local := runLegs(t, context.Background(), src, run.Trigger{}, opts, nil)
	remote := runLegs(t, context.Background(), src, run.Trigger{}, opts, &tapTransport{ProcessTransport: run.ProcessTransport{Path: bin}})
	for _, lr := range []legRun{local, remote} {
		if !strings.Contains(lr.out, "given=yes controller=unset") {
			t.Errorf("want the step to see Options.Env only\n%s", lr.out)
		}
	}
}

// TestRemoteCalledWorkflowLegs: the jobs of a called reusable workflow run
// through the transport as the caller's jobs do (before, they ran in the
// controller), with the callee's file, its typed inputs and mapped
// secrets, the caller's github context, and outputs back to the caller.
func TestRemoteCalledWorkflowLegs(t *testing.T) {
	bin := runnerForLegs(t)
	repo := t.TempDir()
	gittest.Init(t, repo)
	sha := gittest.Commit(t, repo, map[string]string{".github/workflows/reusable.yml": `name: Reusable
on:
  workflow_call:
    inputs:
      word: {type: string, required: true}
      times: {type: number, default: 2}
    secrets:
      pass: {required: true}
    outputs:
      said: {value: "${{ jobs.inner.outputs.said }}"}
env:
  CALLEE_ENV: from-the-callee
jobs:
  inner:
    runs-on: linux
    outputs:
      said: ${{ steps.s.outputs.said }}
    steps:
      - id: s
        env:
          PASS: ${{ secrets.pass }}
        run: |
          echo "inner says ${{ inputs.word }} x${{ inputs.times }} in ${{ github.workflow }} ($CALLEE_ENV) pass=$PASS"
          echo "said=${{ inputs.word }}-${{ inputs.times }}" >> "$GITHUB_OUTPUT"
`}, "reusable")
	src := `name: Caller
on: push
jobs:
  call:
    uses: ./.github/workflows/reusable.yml
    with:
      word: wren
    secrets:
      pass: ${{ secrets.TOK }}
  after:
    needs: call
    runs-on: linux
    steps:
      - run: echo "the callee said ${{ needs.call.outputs.said }}"
`
	trig := run.Trigger{Repo: run.Repo{Path: repo, SHA: sha, Ref: "refs/heads/main", Repository: "o/r"}}
	secrets := map[string]string{"TOK": remoteSecret}
	local := runLegs(t, context.Background(), src, trig, run.Options{Secrets: secrets}, nil)
	tt := &tapTransport{ProcessTransport: run.ProcessTransport{Path: bin}, note: "remote leg"}
	remote := runLegs(t, context.Background(), src, trig, run.Options{Secrets: secrets}, tt)
	if local.res.Conclusion != "success" || remote.res.Conclusion != "success" {
		t.Fatalf("conclusions local %s, remote %s; want success\nremote:\n%s", local.res.Conclusion, remote.res.Conclusion, remote.out)
	}
	if l, r := jobsOf(local.res), jobsOf(remote.res); l != r {
		t.Errorf("job results differ\nlocal:\n%s\nremote:\n%s", l, r)
	}
	for _, want := range []string{
		"remote leg call / inner",
		"inner says wren x2 in Caller (from-the-callee) pass=***",
		"the callee said wren-2",
	} {
		if !strings.Contains(remote.out, want) {
			t.Errorf("the remote run's output lacks %q:\n%s", want, remote.out)
		}
	}
	if strings.Contains(remote.out, remoteSecret) {
		t.Errorf("the secret in the output:\n%s", remote.out)
	}
}
