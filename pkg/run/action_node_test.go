package run_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/testenv"
)

// jsActionsStep is a workflow step that puts the JavaScript actions of
// testdata/jsactions into the workspace as ./act, with GitHub's toolkit
// packages (@actions/core, exec, io; `make toolkit` installs them into
// .cache/npm-toolkit) as their node_modules. The test stops without node
// or the toolkit.
func jsActionsStep(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Missing(t, "node is not on the PATH: apt-get install nodejs")
	}
	modules, err := filepath.Abs("../../.cache/npm-toolkit/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(modules, "@actions", "core", "package.json")); err != nil {
		testenv.Missing(t, "GitHub's toolkit is not installed in %s: run make toolkit", modules)
	}
	src, err := filepath.Abs("testdata/jsactions")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("      - run: cp -r '%s' act && ln -s '%s' act/node_modules\n", src, modules)
}

func stepNamed(t *testing.T, j *run.JobResult, name string) []*run.StepResult {
	t.Helper()
	var out []*run.StepResult
	for _, s := range j.Steps {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// An action written with GitHub's toolkit sees its inputs as getInput and
// friends read them, and what it does with core, exec and io reaches the
// job as on GitHub: outputs, env, PATH, masks, state for its post,
// the summary, groups, annotations, failures and exit codes.
func TestJavaScriptActionToolkit(t *testing.T) {
	const token = "tok-3f9a1c-notyetsecret"
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  js:
    runs-on: x
    steps:
`+jsActionsStep(t)+`
      - id: tk
        uses: ./act/toolkit
        env:
          STEP_ENV: from the step
        with:
          name: world
          lines: |
            one
            two
          token: `+token+`
      - run: |
          echo "greeting=${{ steps.tk.outputs.greeting }} env=$FROM_ACTION"
          echo 'multi=${{ toJSON(steps.tk.outputs.multi) }}'
          jstool
          echo "later `+token+`"
      - id: failing
        uses: ./act/fails
        continue-on-error: true
      - id: code
        uses: ./act/exitcode
        continue-on-error: true
      - run: echo "outcomes ${{ steps.failing.outcome }} ${{ steps.code.outcome }} ${{ steps.failing.conclusion }}"
`, run.Trigger{}, run.Options{})
	for _, want := range []string{
		"name=world",
		"padded=[padded value] raw=[  padded value  ]",
		"flag=true",
		`lines=["one","two"]`,
		"with space=spaced",
		"default from expression is action path: true",
		"token=***",
		"action=tk path-ends=toolkit repo=[] cwd-is-workspace=true",
		"step env=from the step",
		"▸ my group",
		"inside the group",
		"Notice: src/a.js:3:5: Note title: a notice",
		"Warning: src/b.js:7: a warning",
		"Error: an error that does not fail the step",
		"[command]/",
		`sh -c echo "exec-ran $FROM_ACTION"`,
		"exec-ran exported value",
		"exec code=0",
		"which sh found=true",
		"greeting=hello world env=exported value",
		`multi="line 1\nline 2"`,
		"jstool-ran",
		"later ***",
		"post state phase=[saved in main] legacy=[saved by command]",
		"Warning: The `save-state` command is deprecated and will be disabled soon.",
		"post token=*** env=exported value",
		"Error: Input required and not supplied: missing",
		"Node run failed with exit code 1",
		"setting the exit code",
		"Node run failed with exit code 3",
		"outcomes failure failure success",
		"node v",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if strings.Contains(out, "a debug line") {
		t.Errorf("core.debug printed without ACTIONS_STEP_DEBUG\n%s", out)
	}
	j := job(t, res, "js")
	if j.Result != "success" {
		t.Errorf("job %s, want success (continue-on-error)\n%s", j.Result, out)
	}
	if post := stepNamed(t, j, "Post ./act/toolkit"); len(post) != 1 || post[0].Conclusion != "success" || j.Steps[len(j.Steps)-1] != post[0] {
		t.Errorf("want the post step last, succeeded: %+v", j.Steps)
	}
	summary, err := os.ReadFile(filepath.Join(res.Dir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(summary); !strings.Contains(s, "<h1>Toolkit summary</h1>") || !strings.Contains(s, "greeted world, token ***") {
		t.Errorf("summary.md:\n%s", s)
	}
	log, err := os.ReadFile(filepath.Join(res.Dir, "js.log"))
	if err != nil {
		t.Fatal(err)
	}
	record, _ := os.ReadFile(filepath.Join(res.Dir, "summary.json"))
	for what, text := range map[string]string{"output": out, "job log": string(log), "summary.md": string(summary), "summary.json": string(record)} {
		if strings.Contains(text, token) {
			t.Errorf("the %s holds the value the action masked:\n%s", what, text)
		}
	}
}

// Post steps run at the job's end, newest first, also after a failure,
// under their post-if; a step that did not run has no post; a post that
// fails fails the job. A ./path
// action's pre does not run, with GitHub's warning.
func TestJavaScriptActionPostSteps(t *testing.T) {
	setup := jsActionsStep(t)
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  failing:
    runs-on: x
    steps:
`+setup+`
      - uses: ./act/cleanup
        with: {label: first}
      - uses: ./act/successonly
      - uses: ./act/cleanup
        with: {label: second}
      - if: false
        uses: ./act/cleanup
        with: {label: never}
      - run: exit 1
      - uses: ./act/cleanup
        with: {label: after-failure}
  passing:
    runs-on: x
    steps:
`+setup+`
      - uses: ./act/successonly
  failing-post:
    runs-on: x
    steps:
`+setup+`
      - uses: ./act/failpost
`, run.Trigger{}, run.Options{Parallel: 1})
	for _, want := range []string{
		"Warning: `pre` execution is not supported for local action from './act/cleanup'",
		"main first sees []",
		"main second sees []",
		"post second pre-state=[]",
		"post first pre-state=[]",
		"post of successonly",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	for _, no := range []string{"pre first", "never", "after-failure"} {
		if strings.Contains(out, no) {
			t.Errorf("output has %q\n%s", no, out)
		}
	}
	if i, k := strings.Index(out, "post second"), strings.Index(out, "post first"); i > k {
		t.Errorf("post steps ran in step order, want reverse\n%s", out)
	}
	failing := job(t, res, "failing")
	if failing.Result != "failure" {
		t.Errorf("failing job: %s", failing.Result)
	}
	var got []string
	for _, s := range failing.Steps {
		if strings.HasPrefix(s.Name, "Post ") {
			got = append(got, s.Name+" "+s.Conclusion)
		}
	}
	want := "Post ./act/cleanup success, Post ./act/successonly skipped, Post ./act/cleanup success"
	if strings.Join(got, ", ") != want {
		t.Errorf("post steps %q, want %q", strings.Join(got, ", "), want)
	}
	if p := stepNamed(t, job(t, res, "passing"), "Post ./act/successonly"); len(p) != 1 || p[0].Conclusion != "success" {
		t.Errorf("passing job's post: %+v", p)
	}
	fp := job(t, res, "failing-post")
	if p := stepNamed(t, fp, "Post ./act/failpost"); fp.Result != "failure" || len(p) != 1 || p[0].Error != "Node run failed with exit code 2" {
		t.Errorf("a failing post: job %s, post %+v", fp.Result, p)
	}
}

// The node that runs actions is said, can be named, and a warning says
// when it is older than the action asks for.
func TestJavaScriptActionNodeBinary(t *testing.T) {
	setup := jsActionsStep(t)
	real, _ := exec.LookPath("node")
	real, _ = filepath.EvalSymlinks(real)
	dir := t.TempDir()
	mine := filepath.Join(dir, "my-node")
	if err := os.Symlink(real, mine); err != nil {
		t.Fatal(err)
	}
	version, err := exec.Command(real, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(version))
	src := "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n" + setup + "      - uses: ./act/legacy\n"
	_, out := runWF(t, context.Background(), src, run.Trigger{}, run.Options{Node: mine})
	if !strings.Contains(out, "node "+v+" at "+mine) || !strings.Contains(out, "legacy ran on "+v) {
		t.Errorf("output lacks the node named\n%s", out)
	}
	major, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		t.Fatalf("node --version: %q", v)
	}
	older := n < 24
	if warned := strings.Contains(out, "Warning: ./act/legacy asks for node24; node "+v+" at "+mine+" is older"); warned != older {
		t.Errorf("node %s, warning printed: %v\n%s", v, warned, out)
	}

	res, out := runWF(t, context.Background(), src, run.Trigger{}, run.Options{Node: filepath.Join(dir, "missing")})
	if job(t, res, "a").Result != "failure" || !strings.Contains(out, "node: stat "+filepath.Join(dir, "missing")) {
		t.Errorf("a missing node: %s\n%s", job(t, res, "a").Result, out)
	}
	bin := toolsWithoutNode(t, dir)
	res, out = runWF(t, context.Background(), src, run.Trigger{}, run.Options{Env: []string{"PATH=" + bin}})
	if job(t, res, "a").Result != "failure" || !strings.Contains(out, "no node on the PATH") {
		t.Errorf("no node: %s\n%s", job(t, res, "a").Result, out)
	}
}

// toolsWithoutNode is a folder under dir with the tools of
// jsActionsStep's setup step and no node: a PATH for it.
func toolsWithoutNode(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"bash", "sh", "cp", "ln"} {
		if err := os.Symlink(mustLook(t, tool), filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

func mustLook(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// After Ctrl-C the post steps still run (only Options.Force stops them);
// a post step that hangs ends with the job's timeout; neither leaves a
// process behind.
func TestJavaScriptActionPostAfterCancel(t *testing.T) {
	setup := jsActionsStep(t)
	dir := t.TempDir()
	marker := fmt.Sprintf("%d.%d", 4000+os.Getpid()%1000, time.Now().UnixNano()%1000)
	leftover := func() bool {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err == nil && strings.Contains(string(cmd), marker) {
				return true
			}
		}
		return false
	}

	// Ctrl-C during a step: the posts run, the hanging one until Force.
	force, stopForce := context.WithCancel(context.Background())
	defer stopForce()
	go func() {
		for ctx := time.Now(); time.Since(ctx) < time.Minute; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(dir + "/post-started"); err == nil {
				break
			}
		}
		stopForce()
	}()
	res, out := runWF(t, cancelWhen(t, dir+"/started"), `
on: push
jobs:
  a:
    runs-on: x
    steps:
`+setup+`
      - uses: ./act/hangs
        with: {marker: '`+marker+`', signal: '`+dir+`/post-started'}
      - uses: ./act/cleanup
        with: {label: cancelled}
      - run: touch `+dir+`/started; sleep 42.5
`, run.Trigger{}, run.Options{Force: force})
	for _, want := range []string{"post cancelled pre-state=[]", "post of hangs started"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	a := job(t, res, "a")
	if p := stepNamed(t, a, "Post ./act/hangs"); len(p) != 1 || p[0].Conclusion != "cancelled" || a.Result != "cancelled" {
		t.Errorf("after Force: job %s, post %+v", a.Result, p)
	}
	if leftover() {
		t.Errorf("a process of the post step outlived the job")
	}

	// The job's timeout ends a post step that hangs.
	start := time.Now()
	res, out = runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    timeout-minutes: 0.1
    steps:
`+setup+`
      - uses: ./act/hangs
        with: {marker: '`+marker+`', signal: '`+dir+`/post-started-2'}
`, run.Trigger{}, run.Options{})
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the run took %s; the job's timeout is 6s", took)
	}
	a = job(t, res, "a")
	if p := stepNamed(t, a, "Post ./act/hangs"); len(p) != 1 || p[0].Conclusion != "failure" || a.Result != "failure" || !strings.Contains(p[0].Error, "timeout") {
		t.Errorf("after the timeout: job %s, post %+v\n%s", a.Result, p, out)
	}
	if leftover() {
		t.Errorf("a process of the post step outlived the job")
	}
}

// The pre of a remote JavaScript action runs before the job's first step
// ("Pre NAME", under its pre-if), and what it saves in GITHUB_STATE
// reaches the action's main and post.
func TestJavaScriptActionPre(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Missing(t, "node is not on the PATH: apt-get install nodejs")
	}
	src, err := filepath.Abs("testdata/jsremote")
	if err != nil {
		t.Fatal(err)
	}
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: echo first-step
      - uses: acme/prepost@v1
        with: {who: ana}
      - uses: acme/skippre@v1
`, run.Trigger{}, run.Options{Actions: &actions.Resolver{StateDir: t.TempDir(), Source: actions.Source{Dir: src}}})
	for _, want := range []string{
		"pre ran for ana repo=acme/prepost ref=v1",
		"main sees [saved in pre]",
		"main of skippre",
		"post sees [saved in pre] [saved in main]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if strings.Contains(out, "pre of skippre ran") {
		t.Errorf("a pre ran although its pre-if is false\n%s", out)
	}
	if strings.Index(out, "pre ran for") > strings.Index(out, "first-step") {
		t.Errorf("the pre ran after the job's first step\n%s", out)
	}
	var got []string
	for _, s := range job(t, res, "a").Steps {
		got = append(got, s.Name+" "+s.Conclusion)
	}
	want := "Pre acme/prepost@v1 success, Pre acme/skippre@v1 skipped, Run echo first-step success, acme/prepost@v1 success, acme/skippre@v1 success, Post acme/prepost@v1 success"
	if strings.Join(got, ", ") != want {
		t.Errorf("steps %q, want %q", strings.Join(got, ", "), want)
	}
}

// A JavaScript action a composite action uses has its post at the job's
// end too, one for each use of the composite action, each with the state
// its own main saved. (The action is remote: a remote action is
// resolved once for the job, so both uses run the same parsed steps.)
func TestJavaScriptActionInComposite(t *testing.T) {
	src, err := filepath.Abs("testdata/jsremote")
	if err != nil {
		t.Fatal(err)
	}
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
`+jsActionsStep(t)+`
      - uses: acme/wrapper@v1
        with: {label: one}
      - uses: acme/wrapper@v1
        with: {label: two}
      - run: echo last-step
`, run.Trigger{}, run.Options{Actions: &actions.Resolver{StateDir: t.TempDir(), Source: actions.Source{Dir: src}}})
	for _, want := range []string{"main one sees []", "main two sees []", "composite step after the nested action", "last-step", "post two pre-state=[]", "post one pre-state=[]"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if last, two, one := strings.Index(out, "last-step"), strings.Index(out, "post two"), strings.Index(out, "post one"); two < last || one < two {
		t.Errorf("want the posts after the job's last step, the second use's first\n%s", out)
	}
	a := job(t, res, "a")
	if p := stepNamed(t, a, "Post ./act/cleanup"); len(p) != 2 || p[0].Conclusion != "success" || p[1].Conclusion != "success" || a.Result != "success" {
		t.Errorf("job %s, post %+v\n%s", a.Result, p, out)
	}
}

// Options.BundledNode (a pod's node copied from the template's image) runs
// JavaScript actions when the loader it names exists, before node on the
// PATH; one whose loader is missing gives way to the PATH's node.
func TestJavaScriptActionBundledNode(t *testing.T) {
	setup := jsActionsStep(t)
	real, _ := exec.LookPath("node")
	real, _ = filepath.EvalSymlinks(real)
	dir := t.TempDir()
	bin := toolsWithoutNode(t, dir)
	src := "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n" + setup + "      - uses: ./act/legacy\n"
	res, out := runWF(t, context.Background(), src, run.Trigger{}, run.Options{Env: []string{"PATH=" + bin}, BundledNode: real})
	if job(t, res, "a").Result != "success" || !strings.Contains(out, " at "+real) {
		t.Errorf("the bundled node, none on the PATH: %s\n%s", job(t, res, "a").Result, out)
	}
	// Both, as new: the bundled one, as GitHub runs actions with its own.
	if err := os.Symlink(real, filepath.Join(bin, "node")); err != nil {
		t.Fatal(err)
	}
	res, out = runWF(t, context.Background(), src, run.Trigger{}, run.Options{Env: []string{"PATH=" + bin}, BundledNode: real})
	if job(t, res, "a").Result != "success" || !strings.Contains(out, " at "+real) {
		t.Errorf("the bundled node and one on the PATH: %s\n%s", job(t, res, "a").Result, out)
	}
	// A bundled node older than the PATH's, neither as new as the action
	// asks (legacy: node24): the newer.
	old := filepath.Join(dir, "old-node")
	if err := os.WriteFile(old, []byte("#!/bin/sh\necho v18.20.0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, out = runWF(t, context.Background(), src, run.Trigger{}, run.Options{Env: []string{"PATH=" + bin}, BundledNode: old})
	if job(t, res, "a").Result != "success" || !strings.Contains(out, " at "+filepath.Join(bin, "node")) {
		t.Errorf("an older bundled node: %s\n%s", job(t, res, "a").Result, out)
	}
	if err := os.Remove(filepath.Join(bin, "node")); err != nil {
		t.Fatal(err)
	}

	// A dynamic binary whose loader does not exist (as a glibc node in
	// an image without glibc; bash's copy stands for it, whatever node
	// is linked like): node on the PATH runs the action.
	sh := mustLook(t, "bash")
	b, err := os.ReadFile(sh)
	if err != nil {
		t.Fatal(err)
	}
	interp := container.ELFInterpreter(sh)
	missing := strings.Replace(interp, "ld-", "xx-", 1)
	if interp == "" || len(missing) != len(interp) || !bytes.Contains(b, []byte(interp+"\x00")) {
		t.Fatalf("cannot rewrite %s's interpreter %q", sh, interp)
	}
	odd := filepath.Join(dir, "odd-node")
	if err := os.WriteFile(odd, bytes.Replace(b, []byte(interp+"\x00"), []byte(missing+"\x00"), 1), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := container.ELFInterpreter(odd); got != missing {
		t.Fatalf("rewritten interpreter %q, want %q", got, missing)
	}
	if err := os.Symlink(real, filepath.Join(bin, "node")); err != nil {
		t.Fatal(err)
	}
	res, out = runWF(t, context.Background(), src, run.Trigger{}, run.Options{Env: []string{"PATH=" + bin}, BundledNode: odd})
	if job(t, res, "a").Result != "success" || !strings.Contains(out, " at "+filepath.Join(bin, "node")) {
		t.Errorf("a bundled node that cannot run, node on the PATH: %s\n%s", job(t, res, "a").Result, out)
	}

	// One that fails to start (a library missing), and no node on the
	// PATH: the error says why the bundled one cannot run.
	if err := os.Remove(filepath.Join(bin, "node")); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken-node")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'node: error while loading shared libraries: libstdc++.so.6' >&2\nexit 127\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, out = runWF(t, context.Background(), src, run.Trigger{}, run.Options{Env: []string{"PATH=" + bin}, BundledNode: broken})
	if job(t, res, "a").Result != "failure" || !strings.Contains(out, "no node on the PATH of the job's container: image, and runner's node (copied from the template's image) cannot run in this image: node: "+broken+" --version: exit status 127: node: error while loading shared libraries: libstdc++.so.6") {
		t.Errorf("a bundled node that cannot start, none on the PATH: %s\n%s", job(t, res, "a").Result, out)
	}
	// None copied in (the template's image had none), none on the PATH.
	res, out = runWF(t, context.Background(), src, run.Trigger{}, run.Options{Env: []string{"PATH=" + bin}, BundledNode: filepath.Join(dir, "not-copied")})
	if job(t, res, "a").Result != "failure" || !strings.Contains(out, "and no node was copied in beside runner (the template's image has none on its PATH, or the copy failed") {
		t.Errorf("no bundled node, none on the PATH: %s\n%s", job(t, res, "a").Result, out)
	}
}
