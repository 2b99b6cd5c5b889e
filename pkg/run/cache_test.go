package run_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo/gittest"
	"github.com/birdflock/runner/pkg/jobcache"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// cacheEnv is a repository and a state dir shared by the runs of a test,
// with the job cache under the state dir.
type cacheEnv struct {
	t     *testing.T
	repo  string
	state string
	sha   string
	store *jobcache.Store
}

func newCacheEnv(t *testing.T, files map[string]string) *cacheEnv {
	t.Helper()
	e := &cacheEnv{t: t, repo: t.TempDir(), state: t.TempDir()}
	gittest.Init(t, e.repo)
	e.sha = gittest.Commit(t, e.repo, files, "initial")
	var err error
	if e.store, err = jobcache.Open(filepath.Join(e.state, "cache"), 0); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *cacheEnv) commit(files map[string]string) {
	e.sha = gittest.Commit(e.t, e.repo, files, "change")
}

func (e *cacheEnv) run(src string, trig run.Trigger, opts run.Options) (*run.Result, string) {
	e.t.Helper()
	trig.Repo = run.Repo{Path: e.repo, SHA: e.sha, Ref: "refs/heads/main", Repository: "o/r"}
	opts.StateDir, opts.Cache = e.state, e.store
	res, out := runWF(e.t, context.Background(), src, trig, opts)
	if res.Conclusion != "success" {
		e.t.Fatalf("run %d: %s\n%s", res.ID, res.Conclusion, out)
	}
	return res, out
}

const cachedBuild = `
on: push
jobs:
  build:
    runs-on: x
    env:
      RUNNER_CACHE: 'paths: back/**'
    outputs:
      v: ${{ steps.s.outputs.v }}
    steps:
      - uses: actions/checkout@v4
      - id: s
        run: |
          echo "v=$(cat back/f.txt)" >> "$GITHUB_OUTPUT"
          cp back/f.txt out.txt
          echo "## built $(cat back/f.txt)" >> "$GITHUB_STEP_SUMMARY"
      - uses: actions/upload-artifact@v4
        with:
          name: out
          path: out.txt
  use:
    needs: build
    runs-on: x
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: out
      - run: echo "got=${{ needs.build.outputs.v }} file=$(cat out.txt)"
`

// cached reports whether the leg's result came from the cache, and from
// which run.
func cached(t *testing.T, res *run.Result, key string) (bool, int) {
	t.Helper()
	j := job(t, res, key)
	if j.Result != "success" {
		t.Fatalf("%s: %s", key, j.Result)
	}
	if j.Cached == nil {
		return false, 0
	}
	return true, j.Cached.Run
}

func TestCacheHitRestoresOutputsArtifactsAndSummary(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one", "front/g.txt": "x"})
	first, out := e.run(cachedBuild, run.Trigger{}, run.Options{})
	if hit, _ := cached(t, first, "build"); hit {
		t.Fatalf("first run hit an empty cache\n%s", out)
	}
	if !strings.Contains(out, "got=one file=one") {
		t.Fatalf("first run:\n%s", out)
	}
	second, out := e.run(cachedBuild, run.Trigger{}, run.Options{})
	hit, from := cached(t, second, "build")
	if !hit || from != first.ID {
		t.Fatalf("second run: hit %v from run %d, want a hit from run %d\n%s", hit, from, first.ID, out)
	}
	if len(job(t, second, "build").Steps) != 0 {
		t.Errorf("a cached job ran steps: %+v", job(t, second, "build").Steps)
	}
	if !strings.Contains(out, "cached (run 1, key ") {
		t.Errorf("console does not show the hit:\n%s", out)
	}
	// Observers (runner serve) get it with the job's end.
	var ended []run.Event
	e.run(cachedBuild, run.Trigger{}, run.Options{Observer: run.ObserverFunc(func(ev run.Event) {
		if ev.Kind == run.JobEnded && ev.Job == "build" {
			ended = append(ended, ev)
		}
	})})
	if len(ended) != 1 || ended[0].Status != "success" || !strings.HasPrefix(ended[0].Text, "cached (run 1, key ") {
		t.Errorf("JobEnded events of the cached job: %+v", ended)
	}
	// The downstream job sees the restored outputs and artifact.
	if !strings.Contains(out, "got=one file=one") {
		t.Errorf("downstream job did not get the restored output and artifact:\n%s", out)
	}
	sum, err := os.ReadFile(filepath.Join(second.Dir, "summary.md"))
	if err != nil || !strings.Contains(string(sum), "## built one") {
		t.Errorf("summary.md of the cached run = %q, %v", sum, err)
	}
	rec, err := os.ReadFile(filepath.Join(second.Dir, "summary.json"))
	if err != nil || !strings.Contains(string(rec), `"Cached"`) {
		t.Errorf("run record does not show the hit: %s %v", rec, err)
	}
	// The uncached job still ran.
	if hit, _ := cached(t, second, "use"); hit {
		t.Errorf("a job that did not opt in was cached")
	}
}

func TestCacheKeyFollowsPaths(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one", "front/g.txt": "x"})
	e.run(cachedBuild, run.Trigger{}, run.Options{})
	e.commit(map[string]string{"front/g.txt": "y"})
	res, out := e.run(cachedBuild, run.Trigger{}, run.Options{})
	if hit, _ := cached(t, res, "build"); !hit {
		t.Fatalf("a change outside the job's paths missed\n%s", out)
	}
	e.commit(map[string]string{"back/f.txt": "two"})
	res, out = e.run(cachedBuild, run.Trigger{}, run.Options{})
	if hit, _ := cached(t, res, "build"); hit {
		t.Fatalf("a change inside the job's paths hit\n%s", out)
	}
	if !strings.Contains(out, "got=two file=two") {
		t.Errorf("the rebuilt job's result did not reach downstream:\n%s", out)
	}
	// And the new result is what the next run restores.
	res, out = e.run(cachedBuild, run.Trigger{}, run.Options{})
	if hit, _ := cached(t, res, "build"); !hit || !strings.Contains(out, "got=two file=two") {
		t.Fatalf("hit %v\n%s", hit, out)
	}
}

func TestCacheWholeTreeWithoutPaths(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one", "front/g.txt": "x"})
	src := strings.Replace(cachedBuild, "'paths: back/**'", "'true'", 1)
	e.run(src, run.Trigger{}, run.Options{})
	e.commit(map[string]string{"front/g.txt": "y"})
	res, out := e.run(src, run.Trigger{}, run.Options{})
	if hit, _ := cached(t, res, "build"); hit {
		t.Fatalf("RUNNER_CACHE: true keys the whole tree, yet a change hit\n%s", out)
	}
}

func TestCacheSecretChangeMissesAndIsNeverShown(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	src := strings.Replace(cachedBuild, "      - id: s\n", "      - run: test -n \"$TOKEN\"\n        env:\n          TOKEN: ${{ secrets.TOKEN }}\n      - id: s\n", 1)
	const v1, v2 = "hunter2-first-value", "hunter2-second-value"
	first, _ := e.run(src, run.Trigger{}, run.Options{Secrets: map[string]string{"TOKEN": v1}})
	res, out := e.run(src, run.Trigger{}, run.Options{Secrets: map[string]string{"TOKEN": v1}})
	if hit, _ := cached(t, res, "build"); !hit {
		t.Fatalf("same secret missed\n%s", out)
	}
	res, out = e.run(src, run.Trigger{}, run.Options{Secrets: map[string]string{"TOKEN": v2}})
	if hit, _ := cached(t, res, "build"); hit {
		t.Fatalf("a changed secret hit\n%s", out)
	}
	// Neither value is in the key explanation (job logs), the entries or
	// the run records.
	for _, root := range []string{e.state} {
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			data, _ := os.ReadFile(p)
			for _, v := range []string{v1, v2} {
				if strings.Contains(string(data), v) {
					t.Errorf("%s holds a secret value", p)
				}
			}
			return nil
		})
	}
	log, err := os.ReadFile(filepath.Join(first.Dir, "build.log"))
	if err != nil || !strings.Contains(string(log), "secrets.TOKEN: hmac-sha256:") {
		t.Errorf("the key explanation in the job log lacks the secret's digest: %v\n%s", err, log)
	}
}

func TestCacheMatrixLegsKeyedApart(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	src := `
on: push
jobs:
  build:
    runs-on: x
    env:
      RUNNER_CACHE: 'true'
    strategy:
      matrix:
        v: ${{ fromJSON(vars.LEGS) }}
    steps:
      - run: echo "leg ${{ matrix.v }}"
`
	e.run(src, run.Trigger{Vars: map[string]string{"LEGS": `["a","b"]`}}, run.Options{})
	res, out := e.run(src, run.Trigger{Vars: map[string]string{"LEGS": `["a","c"]`}}, run.Options{})
	if hit, _ := cached(t, res, "build (a)"); !hit {
		t.Errorf("an unchanged leg missed\n%s", out)
	}
	if hit, _ := cached(t, res, "build (c)"); hit {
		t.Errorf("a changed matrix value hit\n%s", out)
	}
}

func TestCacheNeedsOutputsAndInputs(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	src := `
on: push
jobs:
  up:
    runs-on: x
    outputs:
      read: ${{ vars.READ }}
      ignored: ${{ vars.IGNORED }}
    steps:
      - run: "true"
  down:
    needs: up
    runs-on: x
    env:
      RUNNER_CACHE: 'true'
    steps:
      - run: echo "read=${{ needs.up.outputs.read }}"
`
	vars := func(read, ignored string) run.Trigger {
		return run.Trigger{Vars: map[string]string{"READ": read, "IGNORED": ignored}}
	}
	e.run(src, vars("r1", "i1"), run.Options{})
	res, out := e.run(src, vars("r1", "i2"), run.Options{})
	if hit, _ := cached(t, res, "down"); !hit {
		t.Errorf("a needs output the job does not read changed the key\n%s", out)
	}
	res, out = e.run(src, vars("r2", "i2"), run.Options{})
	if hit, _ := cached(t, res, "down"); hit {
		t.Errorf("a changed needs output the job reads hit\n%s", out)
	}
}

func TestCacheFailureIsNotStored(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	src := `
on: push
jobs:
  build:
    runs-on: x
    env:
      RUNNER_CACHE: 'true'
    steps:
      - run: exit 1
`
	for i := 0; i < 2; i++ {
		res, out := runWF(t, context.Background(), src, run.Trigger{Repo: run.Repo{Path: e.repo, SHA: e.sha}}, run.Options{StateDir: e.state, Cache: e.store})
		if j := job(t, res, "build"); j.Result != "failure" || j.Cached != nil {
			t.Fatalf("run %d: %s cached=%v\n%s", i+1, j.Result, j.Cached, out)
		}
	}
	if list, _ := e.store.List(); len(list) != 0 {
		t.Errorf("a failed job was stored: %+v", list[0])
	}
	// continue-on-error turns the job's failure into success: still not stored.
	src = strings.Replace(src, "    runs-on: x\n", "    runs-on: x\n    continue-on-error: true\n", 1)
	runWF(t, context.Background(), src, run.Trigger{Repo: run.Repo{Path: e.repo, SHA: e.sha}}, run.Options{StateDir: e.state, Cache: e.store})
	if list, _ := e.store.List(); len(list) != 0 {
		t.Errorf("a failed job with continue-on-error was stored")
	}
}

func TestCacheNoCacheRuns(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	e.run(cachedBuild, run.Trigger{}, run.Options{})
	res, out := e.run(cachedBuild, run.Trigger{}, run.Options{NoCache: true})
	if hit, _ := cached(t, res, "build"); hit {
		t.Fatalf("--no-cache hit\n%s", out)
	}
	if len(job(t, res, "build").Steps) == 0 {
		t.Errorf("--no-cache did not run the steps")
	}
}

func TestCacheCorruptedEntryRunsWithWarning(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	e.run(cachedBuild, run.Trigger{}, run.Options{})
	list, err := e.store.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("entries %v %v", list, err)
	}
	p := filepath.Join(e.store.Dir, "entries", list[0].Key, "artifacts", "out", "out.txt")
	if err := os.WriteFile(p, []byte("on"), 0o644); err != nil { // truncated
		t.Fatal(err)
	}
	res, out := e.run(cachedBuild, run.Trigger{}, run.Options{})
	if hit, _ := cached(t, res, "build"); hit {
		t.Fatalf("a truncated entry hit\n%s", out)
	}
	if !strings.Contains(out, "Warning: cache:") || !strings.Contains(out, "got=one file=one") {
		t.Errorf("want a warning and the job's real result:\n%s", out)
	}
	// A broken entry.json is a miss too.
	if err := os.WriteFile(filepath.Join(e.store.Dir, "entries", list[0].Key, "entry.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, out = e.run(cachedBuild, run.Trigger{}, run.Options{})
	if hit, _ := cached(t, res, "build"); hit || !strings.Contains(out, "got=one file=one") {
		t.Fatalf("a corrupted entry.json: hit %v\n%s", hit, out)
	}
}

func TestCacheSpecErrors(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	src := strings.Replace(cachedBuild, "'paths: back/**'", "'paths: ../x'", 1)
	_, out := e.run(src, run.Trigger{}, run.Options{})
	if !strings.Contains(out, "test.yaml:") || !strings.Contains(out, "leaves the repository") {
		t.Errorf("want an error naming the file and line:\n%s", out)
	}
}

func TestExplainCacheMatchesTheRunsKey(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	secrets := map[string]string{"TOKEN": "explain-secret-value"}
	src := strings.Replace(cachedBuild, "      - id: s\n", "      - run: test -n \"${{ secrets.TOKEN }}\"\n      - id: s\n", 1)
	e.run(src, run.Trigger{}, run.Options{Secrets: secrets})
	list, err := e.store.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("entries %v %v", list, err)
	}
	w := loadTestWorkflow(t, src)
	plan, err := run.NewPlan(w, run.Trigger{Repo: run.Repo{Path: e.repo, SHA: e.sha, Ref: "refs/heads/main", Repository: "o/r"}})
	if err != nil {
		t.Fatal(err)
	}
	legs, err := run.ExplainCache(context.Background(), plan, run.Options{Builtins: steps.Default(), StateDir: e.state, Cache: e.store, Secrets: secrets}, "build")
	if err != nil {
		t.Fatal(err)
	}
	if len(legs) != 1 || !legs[0].Complete || legs[0].Key.Sum != list[0].Key {
		t.Fatalf("explained %+v, the run stored %s", legs, list[0].Key)
	}
	text := legs[0].Key.Explain()
	if strings.Contains(text, secrets["TOKEN"]) || !strings.Contains(text, "secrets.TOKEN: hmac-sha256:") || !strings.Contains(text, "tree back/**:") {
		t.Errorf("explanation:\n%s", text)
	}
	if _, err := run.ExplainCache(context.Background(), plan, run.Options{Builtins: steps.Default(), StateDir: e.state, Cache: e.store}, "use"); err == nil || !strings.Contains(err.Error(), "does not opt into") {
		t.Errorf("a job without RUNNER_CACHE: %v", err)
	}
}

func loadTestWorkflow(t *testing.T, src string) *workflow.Workflow {
	t.Helper()
	w, errs := workflow.Load("test.yaml", []byte(src), workflow.Options{Builtins: steps.Default()})
	if len(errs) > 0 {
		t.Fatalf("invalid workflow:\n%v", errs)
	}
	return w
}

func TestCacheRefusesSideEffects(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	src := `
on: push
jobs:
  publish:
    runs-on: x
    env:
      RUNNER_CACHE: 'true'
    steps:
      - run: "true"
      - if: false
        uses: git-commit-push
        with:
          paths: k8s/
`
	_, out := e.run(src, run.Trigger{}, run.Options{})
	if !strings.Contains(out, "cache: off: step 2 (git-commit-push) has side effects") {
		t.Errorf("want a warning that the job is not cached:\n%s", out)
	}
	if list, _ := e.store.List(); len(list) != 0 {
		t.Errorf("a job with side effects was stored")
	}
}

func TestCacheActionCommitAndInputs(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	src := `
on:
  workflow_dispatch:
    inputs:
      who: {type: string}
      other: {type: string}
jobs:
  build:
    runs-on: x
    env:
      RUNNER_CACHE: 'true'
    steps:
      - uses: alice/act@v1
        with:
          who: ${{ inputs.who }}
`
	act := func(text string) *run.Options {
		_, resolver, _ := actionServer(t, map[string]map[string]string{
			"act": {"action.yml": composite("    - run: echo " + text + "\n      shell: bash\n")},
		})
		return &run.Options{Actions: resolver, Secrets: map[string]string{"GITHUB_TOKEN": actionToken}}
	}
	v1, v2 := act("first"), act("second")
	in := func(who, other string) run.Trigger {
		return run.Trigger{Event: "workflow_dispatch", Inputs: map[string]string{"who": who, "other": other}}
	}
	e.run(src, in("ana", "x"), *v1)
	res, out := e.run(src, in("ana", "y"), *v1)
	if hit, _ := cached(t, res, "build"); !hit {
		t.Fatalf("an input the job does not read changed the key\n%s", out)
	}
	res, out = e.run(src, in("bo", "y"), *v1)
	if hit, _ := cached(t, res, "build"); hit {
		t.Errorf("a changed input the job reads hit\n%s", out)
	}
	res, out = e.run(src, in("ana", "x"), *v2)
	if hit, _ := cached(t, res, "build"); hit {
		t.Errorf("the action's tag moved to another commit, yet the job hit\n%s", out)
	}
}

// Two runs at once, storing the same key: both succeed, one entry is kept,
// and a third run restores it whole.
func TestCacheConcurrentRunsSameKey(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	w := loadTestWorkflow(t, cachedBuild)
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			plan, err := run.NewPlan(w, run.Trigger{Repo: run.Repo{Path: e.repo, SHA: e.sha, Ref: "refs/heads/main"}})
			if err == nil {
				var res *run.Result
				res, err = run.Run(context.Background(), plan, run.Options{Builtins: steps.Default(), StateDir: e.state, Cache: e.store})
				if err == nil && res.Conclusion != "success" {
					err = errors.New("run " + res.Conclusion)
				}
			}
			errs <- err
		}()
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if list, _ := e.store.List(); len(list) != 1 {
		t.Fatalf("%d entries, want 1", len(list))
	}
	res, out := e.run(cachedBuild, run.Trigger{}, run.Options{})
	if hit, _ := cached(t, res, "build"); !hit || !strings.Contains(out, "got=one file=one") {
		t.Fatalf("hit %v\n%s", hit, out)
	}
}

// github.token is the GITHUB_TOKEN secret: a job reading it is keyed on a
// digest, and the value is in no entry, record or explanation.
func TestCacheGithubTokenIsASecret(t *testing.T) {
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	const token = "ghs_cacheTokenValue998877"
	src := strings.Replace(cachedBuild, "      - id: s\n", "      - run: test -n \"${{ github.token }}\"\n      - id: s\n", 1)
	opts := run.Options{Secrets: map[string]string{"GITHUB_TOKEN": token}}
	e.run(src, run.Trigger{}, opts)
	res, out := e.run(src, run.Trigger{}, opts)
	if hit, _ := cached(t, res, "build"); !hit {
		t.Fatalf("same token missed\n%s", out)
	}
	filepath.Walk(e.state, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if data, _ := os.ReadFile(p); strings.Contains(string(data), token) {
				t.Errorf("%s holds the token", p)
			}
		}
		return err
	})
	plan, err := run.NewPlan(loadTestWorkflow(t, src), run.Trigger{Repo: run.Repo{Path: e.repo, SHA: e.sha, Ref: "refs/heads/main", Repository: "o/r"}})
	if err != nil {
		t.Fatal(err)
	}
	legs, err := run.ExplainCache(context.Background(), plan, run.Options{Builtins: steps.Default(), StateDir: e.state, Cache: e.store, Secrets: opts.Secrets}, "build")
	if err != nil || len(legs) != 1 {
		t.Fatal(err)
	}
	if text := legs[0].Key.Explain(); strings.Contains(text, token) || !strings.Contains(text, "github.token: hmac-sha256:") {
		t.Errorf("explanation:\n%s", text)
	}
	res, out = e.run(src, run.Trigger{}, run.Options{Secrets: map[string]string{"GITHUB_TOKEN": token + "x"}})
	if hit, _ := cached(t, res, "build"); hit {
		t.Errorf("a changed token hit\n%s", out)
	}
}
