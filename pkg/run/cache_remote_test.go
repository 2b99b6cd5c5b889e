package run_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/jobcache"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/run"
)

// cacheRegistry is runner's registry (distribution) on a loopback port,
// and its directory.
func cacheRegistry(t *testing.T) (*jobcache.Remote, string) {
	t.Helper()
	addr, dir := containertest.EmptyRegistry(t)
	rem, err := jobcache.NewRemote(addr+"/o/runner-cache", registry.New(registry.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	return rem, dir
}

// machine is another state dir (another machine) on the same repository,
// sharing the cache through rem.
func (e *cacheEnv) machine(rem *jobcache.Remote) *cacheEnv {
	e.t.Helper()
	o := *e
	o.state = e.t.TempDir()
	var err error
	if o.store, err = jobcache.Open(filepath.Join(o.state, "cache"), 0); err != nil {
		e.t.Fatal(err)
	}
	o.store.Remote = rem
	return &o
}

func TestCacheSharedThroughRegistry(t *testing.T) {
	rem, regDir := cacheRegistry(t)
	e := newCacheEnv(t, map[string]string{"back/f.txt": "one"})
	e.store.Remote = rem
	res, out := e.run(cachedBuild, run.Trigger{}, run.Options{})
	if hit, _ := cached(t, res, "build"); hit || !strings.Contains(out, "cache: pushed key ") {
		t.Fatalf("first machine: hit %v, want a run and a push\n%s", hit, out)
	}
	// Another state dir: a local miss, a hit from the registry; the job
	// does not run and its dependents get its outputs and artifact.
	b := e.machine(rem)
	res, out = b.run(cachedBuild, run.Trigger{}, run.Options{})
	if hit, _ := cached(t, res, "build"); !hit || len(job(t, res, "build").Steps) != 0 {
		t.Fatalf("second machine: hit %v, steps %v\n%s", hit, job(t, res, "build").Steps, out)
	}
	if !strings.Contains(out, "cache: pulled key ") || !strings.Contains(out, "got=one file=one") {
		t.Errorf("second machine:\n%s", out)
	}
	// Now in its own store: the next run hits without the registry.
	b.store.Remote = nil
	if res, out = b.run(cachedBuild, run.Trigger{}, run.Options{}); !hitOf(t, res) {
		t.Errorf("the pulled entry was not kept\n%s", out)
	}

	// A tampered blob in the registry: a miss with a warning on a third
	// machine, and the job's real result.
	e.commit(map[string]string{"back/f.txt": "two"})
	if res, out = e.run(cachedBuild, run.Trigger{}, run.Options{}); hitOf(t, res) {
		t.Fatalf("a changed file hit\n%s", out)
	}
	blob := ""
	filepath.WalkDir(regDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "data" && filepath.Base(filepath.Dir(p)) == strings.TrimPrefix(jobcache.Digest("two"), "sha256:") {
			blob = p
		}
		return err
	})
	if blob == "" {
		t.Fatal("the artifact's blob is not in the registry")
	}
	if err := os.WriteFile(blob, []byte("twX"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := e.machine(rem)
	res, out = c.run(cachedBuild, run.Trigger{}, run.Options{})
	if hitOf(t, res) {
		t.Fatalf("a tampered entry hit\n%s", out)
	}
	if !strings.Contains(out, "Warning: cache: cache pull ") || !strings.Contains(out, "got=two file=two") || strings.Contains(out, "twX") {
		t.Errorf("want a warning and the job's real result:\n%s", out)
	}
}

func hitOf(t *testing.T, res *run.Result) bool {
	t.Helper()
	hit, _ := cached(t, res, "build")
	return hit
}
