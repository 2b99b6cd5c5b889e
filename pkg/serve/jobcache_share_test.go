package serve_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/serve"
)

const sharedCacheWF = "on: workflow_dispatch\njobs:\n  build:\n    runs-on: x\n    env:\n      RUNNER_CACHE: 'paths: back-end/**'\n" +
	"    outputs:\n      v: ${{ steps.v.outputs.v }}\n    steps:\n" +
	"      - id: v\n        run: echo \"v=built\" >> \"$GITHUB_OUTPUT\"\n" +
	"  after:\n    needs: build\n    runs-on: x\n    steps:\n      - run: echo \"got ${{ needs.build.outputs.v }}\"\n"

var restoredStep = regexp.MustCompile(`^Restored from the job cache \(run (\d+), key ([0-9a-f]{64})\)$`)

// dispatchBuild dispatches sharedCacheWF and returns the run id and, for
// its build job, the run it was restored from (0: it ran).
func dispatchBuild(t *testing.T, s *testServer) (int, int) {
	t.Helper()
	id, _, body := s.dispatch(t, "cache.yaml", nil)
	must(t, id != 0, "dispatch: %s", body)
	must(t, s.done(t, id).conclusion() == "success", "run %d failed:\n%s", id, s.logText(t, id))
	return id, buildRestoredFrom(t, s, id, 1)
}

// buildRestoredFrom is the run the build job of attempt n of run id was
// restored from (0: it ran), as the jobs API says.
func buildRestoredFrom(t *testing.T, s *testServer, id, attempt int) int {
	t.Helper()
	var list struct {
		Jobs []struct {
			Name  string
			Steps []struct{ Name string }
		}
	}
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/attempts/%d/jobs", s.URL, id, attempt), &list)
	for _, j := range list.Jobs {
		if j.Name != "build" {
			continue
		}
		must(t, len(j.Steps) > 0, "run %d attempt %d: build has no steps", id, attempt)
		for _, st := range j.Steps {
			if m := restoredStep.FindStringSubmatch(st.Name); m != nil {
				var n int
				fmt.Sscan(m[1], &n)
				return n
			}
		}
		return 0
	}
	t.Fatalf("run %d attempt %d has no build job", id, attempt)
	return 0
}

// Two services (two state dirs, two machines) with the same cache
// registry: the second restores what the first stored, and its build job
// does not run.
func TestServeCacheRegistryShared(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg, err := registry.Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	repo := birds(t, map[string]string{".github/workflows/cache.yaml": sharedCacheWF})
	cfg := serve.Config{Cache: serve.CacheConfig{Registry: reg.Addr() + "/mona/runner-cache"}}
	a := start(t, cfg, repo, 0)
	id, from := dispatchBuild(t, a)
	must(t, from == 0, "first service: build restored from run %d in empty caches", from)
	log := a.logText(t, id)
	must(t, strings.Contains(log, "cache: pushed key "), "first service did not push:\n%s", log)

	b := start(t, cfg, repo, 0)
	id2, from := dispatchBuild(t, b)
	must(t, from == id, "second service: build restored from run %d, want %d (the first service's)\n%s", from, id, b.logText(t, id2))
	log = b.logText(t, id2)
	must(t, strings.Contains(log, "cache: pulled key ") && strings.Contains(log, "got built"), "second service's log:\n%s", log)
}

// cache: max-size caps the service's store: an entry larger than the cap
// is not kept, so the next run runs the job again.
func TestServeCacheMaxSize(t *testing.T) {
	repo := birds(t, map[string]string{".github/workflows/cache.yaml": sharedCacheWF})
	s := start(t, serve.Config{Cache: serve.CacheConfig{MaxSize: "4"}}, repo, 0)
	dispatchBuild(t, s)
	_, from := dispatchBuild(t, s)
	must(t, from == 0, "a store capped at 4 bytes kept an entry: build restored from run %d", from)
	// And without the cap the same workflow hits (the test can fail).
	s = start(t, serve.Config{}, repo, 0)
	id, _ := dispatchBuild(t, s)
	_, from = dispatchBuild(t, s)
	must(t, from == id, "uncapped: build restored from run %d, want %d", from, id)
}

func TestLoadConfigCache(t *testing.T) {
	dir := t.TempDir()
	write := func(src string) string {
		p := filepath.Join(dir, "serve.yaml")
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := serve.LoadConfig(write("cache:\n  max-size: 500M\n  registry: 127.0.0.1:5000/owner/runner-cache\n"))
	must(t, err == nil && cfg.Cache.MaxSize == "500M" && cfg.Cache.Registry == "127.0.0.1:5000/owner/runner-cache", "cache config: %+v %v", cfg, err)
	for src, want := range map[string]string{
		"cache:\n  max-size: lots\n":       "cache: max-size: size \"lots\"",
		"cache:\n  registry: 'Bad Repo'\n": "cache: registry:",
		"cache:\n  size: 1G\n":             "field size not found",
		"cache:\n  registry: a/b:tag\n":    "cache: registry:",
	} {
		if _, err := serve.LoadConfig(write(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", src, err, want)
		}
	}
}

// "Re-run without cache": {"no_cache": true} on the re-run endpoints
// (beside GitHub's enable_debug_logging), ?no_cache=true on /api: the
// attempt runs the jobs that opt in without looking the cache up; a plain
// re-run restores them again.
func TestServeRerunWithoutCache(t *testing.T) {
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/cache.yaml": sharedCacheWF}), 0)
	id, from := dispatchBuild(t, s)
	must(t, from == 0, "run %d: build restored from run %d in an empty cache", id, from)
	attempt := 1
	rerun := func(url string, body any, noCache bool) {
		t.Helper()
		resp, out := do(t, "POST", url, token, body)
		must(t, resp.StatusCode == 201, "POST %s: %s %s", url, resp.Status, out)
		attempt++
		r := s.wait(t, id, fmt.Sprintf("attempt %d", attempt), func(r runJSON) bool { return r.RunAttempt == attempt && r.Status == "completed" })
		must(t, r.conclusion() == "success", "attempt %d: %s\n%s", attempt, r.conclusion(), s.logText(t, id))
		var run struct {
			NoCache bool `json:"no_cache"`
		}
		getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/attempts/%d", s.URL, id, attempt), &run)
		must(t, run.NoCache == noCache, "attempt %d: no_cache %v, want %v", attempt, run.NoCache, noCache)
	}
	gh := fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id)
	rerun(gh+"/rerun", map[string]any{"enable_debug_logging": false, "no_cache": true}, true)
	n := buildRestoredFrom(t, s, id, attempt)
	must(t, n == 0, "attempt %d (no_cache): build restored from run %d", attempt, n)
	log := s.logText(t, id)
	must(t, strings.Contains(log, "cache: not looked up"), "attempt %d's log:\n%s", attempt, log)

	rerun(gh+"/rerun", map[string]any{"enable_debug_logging": false}, false)
	n = buildRestoredFrom(t, s, id, attempt)
	must(t, n == id, "attempt %d (plain re-run): build restored from run %d, want %d", attempt, n, id)

	rerun(fmt.Sprintf("%s/api/runs/%d/rerun?no_cache=true", s.URL, id), nil, true)
	n = buildRestoredFrom(t, s, id, attempt)
	must(t, n == 0, "attempt %d (/api ?no_cache=true): build restored from run %d", attempt, n)

	var jobs struct {
		Jobs []struct {
			ID   int64
			Name string
		}
	}
	getJSON(t, fmt.Sprintf("%s/attempts/%d/jobs", gh, attempt), &jobs)
	var buildID int64
	for _, j := range jobs.Jobs {
		if j.Name == "build" {
			buildID = j.ID
		}
	}
	rerun(fmt.Sprintf("%s/repos/mona/birds/actions/jobs/%d/rerun", s.URL, buildID), map[string]any{"no_cache": true}, true)
	n = buildRestoredFrom(t, s, id, attempt)
	must(t, n == 0, "attempt %d (job re-run, no_cache): build restored from run %d", attempt, n)

	// A body that is no JSON object is refused, no attempt queued.
	req, _ := http.NewRequest("POST", gh+"/rerun", strings.NewReader(`{"no_cache": "yes"`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	must(t, resp.StatusCode == 400, "a broken body: %s, want 400", resp.Status)
	must(t, s.run(t, id).RunAttempt == attempt, "a refused re-run queued an attempt")
}

// A restored job is marked in the data, not only in its step's name: the
// jobs API's "cached" (null for a job that ran), /api/runs/{id}'s jobs,
// and the run record (summary.json's Cached).
func TestServeCachedJobMarked(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	s := start(t, serve.Config{State: state}, birds(t, map[string]string{".github/workflows/cache.yaml": sharedCacheWF}), 0)
	id1, _ := dispatchBuild(t, s)
	id2, from := dispatchBuild(t, s)
	must(t, from == id1, "run %d: build restored from run %d, want %d", id2, from, id1)
	type cachedJSON struct {
		Run int64  `json:"run"`
		Key string `json:"key"`
	}
	type jobJSON struct {
		ID     int64
		Name   string
		Cached *cachedJSON `json:"cached"`
	}
	var list struct{ Jobs []jobJSON }
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/jobs", s.URL, id2), &list)
	byName := map[string]jobJSON{}
	for _, j := range list.Jobs {
		byName[j.Name] = j
	}
	b := byName["build"]
	must(t, b.Cached != nil && b.Cached.Run == int64(id1) && len(b.Cached.Key) == 64, "run %d: build's cached = %+v", id2, b.Cached)
	var after map[string]any
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/jobs/%d", s.URL, byName["after"].ID), &after)
	v, present := after["cached"]
	must(t, present && v == nil, "run %d: after ran, yet cached = %v (present %v)", id2, v, present)
	var one jobJSON
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/jobs/%d", s.URL, b.ID), &one)
	must(t, one.Cached != nil && *one.Cached == *b.Cached, "job %d: cached = %+v", b.ID, one.Cached)
	var ui struct{ Jobs []jobJSON }
	getJSON(t, fmt.Sprintf("%s/api/runs/%d", s.URL, id2), &ui)
	found := false
	for _, j := range ui.Jobs {
		found = found || j.Name == "build" && j.Cached != nil && *j.Cached == *b.Cached
	}
	must(t, found, "/api/runs/%d: no build job marked cached: %+v", id2, ui.Jobs)
	// The first run's build ran.
	var first struct{ Jobs []jobJSON }
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/jobs", s.URL, id1), &first)
	for _, j := range first.Jobs {
		must(t, j.Cached == nil, "run %d: job %s marked cached: %+v", id1, j.Name, j.Cached)
	}
	// The run record the engine wrote says it too.
	rec, err := os.ReadFile(filepath.Join(state, "exec", "runs", fmt.Sprint(id2), "summary.json"))
	must(t, err == nil && strings.Contains(string(rec), `"Cached"`) && strings.Contains(string(rec), b.Cached.Key), "run record of run %d: %s %v", id2, rec, err)
}
