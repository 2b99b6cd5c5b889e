package jobcache_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/jobcache"
	"github.com/birdflock/runner/pkg/registry"
)

// remoteFixture is runner's registry (distribution) on a loopback port
// and a Remote on a repository of it.
func remoteFixture(t *testing.T) (*jobcache.Remote, string) {
	t.Helper()
	addr, dir := containertest.EmptyRegistry(t)
	r, err := jobcache.NewRemote(addr+"/o/runner-cache", registry.New(registry.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	return r, dir
}

func openStore(t *testing.T) *jobcache.Store {
	t.Helper()
	s, err := jobcache.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// restored restores every artifact of key's entry in s and returns
// artifact/path → content.
func restored(t *testing.T, s *jobcache.Store, k string) (*jobcache.Entry, map[string]string) {
	t.Helper()
	e, err := s.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	root := t.TempDir()
	for _, a := range e.Artifacts {
		if err := s.Restore(k, a, filepath.Join(root, a.Name)); err != nil {
			t.Fatal(err)
		}
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return err
	})
	return e, out
}

func TestRemotePushPull(t *testing.T) {
	r, _ := remoteFixture(t)
	ctx := context.Background()
	a, b := openStore(t), openStore(t)
	k := key("remote")
	if err := r.Pull(ctx, b, k); !errors.Is(err, jobcache.ErrMiss) {
		t.Fatalf("pull of a key the registry lacks: %v, want ErrMiss", err)
	}
	two := artifact(t, "second")
	if err := os.WriteFile(filepath.Join(two, "same.txt"), []byte("second"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(jobcache.Entry{Key: k, Run: 7, Conclusion: "success", Outputs: map[string]string{"o": "v"}, Summary: "## s"},
		map[string]string{"one": artifact(t, "first"), "two": two}); err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, a, k); err != nil {
		t.Fatal(err)
	}
	if err := r.Pull(ctx, b, k); err != nil {
		t.Fatal(err)
	}
	e, files := restored(t, b, k)
	if e.Run != 7 || e.Outputs["o"] != "v" || e.Summary != "## s" {
		t.Errorf("pulled entry %+v", e)
	}
	want := map[string]string{"one/sub/a.txt": "first", "two/sub/a.txt": "second", "two/same.txt": "second"}
	if fmt.Sprint(files) != fmt.Sprint(want) {
		t.Errorf("pulled files %v, want %v", files, want)
	}
	if fi, err := os.Stat(filepath.Join(b.Dir, "entries", k, "artifacts", "two", "same.txt")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode of a pulled file: %v %v", fi, err)
	}
	// A second pull into a store that has it already keeps it.
	if err := r.Pull(ctx, b, k); err != nil {
		t.Fatal(err)
	}
}

// blobFile is the data file of the blob with content in distribution's
// storage under dir.
func blobFile(t *testing.T, dir, content string) string {
	t.Helper()
	hex := key(content) // sha256 of content
	var found string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "data" && filepath.Base(filepath.Dir(p)) == hex {
			found = p
		}
		return err
	})
	if found == "" {
		t.Fatalf("no blob %s under %s", hex, dir)
	}
	return found
}

func TestRemoteTamperedBlobIsAMiss(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper string
	}{{"changed", "payloaX-payload"}, {"truncated", "payload"}, {"empty", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			r, dir := remoteFixture(t)
			ctx := context.Background()
			a, b := openStore(t), openStore(t)
			k := key("tamper " + tc.name)
			if err := a.Put(jobcache.Entry{Key: k, Run: 1, Conclusion: "success"}, map[string]string{"art": artifact(t, "payload-payload")}); err != nil {
				t.Fatal(err)
			}
			if err := r.Push(ctx, a, k); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(blobFile(t, dir, "payload-payload"), []byte(tc.tamper), 0o644); err != nil {
				t.Fatal(err)
			}
			err := r.Pull(ctx, b, k)
			if err == nil || errors.Is(err, jobcache.ErrMiss) {
				t.Fatalf("pull of a tampered entry: %v, want an error", err)
			}
			if !strings.Contains(err.Error(), "sub/a.txt") {
				t.Errorf("the error does not name the file: %v", err)
			}
			if _, err := b.Get(k); !errors.Is(err, jobcache.ErrMiss) {
				t.Errorf("the tampered entry entered the store: %v", err)
			}
			if left, _ := os.ReadDir(filepath.Join(b.Dir, "tmp")); len(left) != 0 {
				t.Errorf("a failed pull left %v", left)
			}
		})
	}
}

func TestRemoteTamperedEntryJSONIsAMiss(t *testing.T) {
	r, dir := remoteFixture(t)
	ctx := context.Background()
	a, b := openStore(t), openStore(t)
	k := key("tamper entry")
	if err := a.Put(jobcache.Entry{Key: k, Run: 1, Conclusion: "success", Outputs: map[string]string{"o": "good"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Push(ctx, a, k); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(a.Dir, "entries", k, "entry.json"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(raw), `"good"`, `"evil"`, 1)
	if err := os.WriteFile(blobFile(t, dir, string(raw)), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Pull(ctx, b, k); err == nil || errors.Is(err, jobcache.ErrMiss) {
		t.Fatalf("pull of a tampered entry.json: %v, want an error", err)
	}
	if _, err := b.Get(k); !errors.Is(err, jobcache.ErrMiss) {
		t.Errorf("the tampered entry entered the store: %v", err)
	}
}

func TestRemoteConcurrentPushesOfOneKey(t *testing.T) {
	r, _ := remoteFixture(t)
	ctx := context.Background()
	k := key("concurrent")
	var stores []*jobcache.Store
	for i := range 4 {
		s := openStore(t)
		if err := s.Put(jobcache.Entry{Key: k, Run: i + 1, Conclusion: "success"}, map[string]string{"art": artifact(t, "same result")}); err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4*3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.Push(ctx, stores[i%4], k)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// Pulls racing into one store: each succeeds, one entry is kept.
	dst := openStore(t)
	for i := range errs[:4] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.Pull(ctx, dst, k)
		}()
	}
	wg.Wait()
	for _, err := range errs[:4] {
		if err != nil {
			t.Error(err)
		}
	}
	e, files := restored(t, dst, k)
	if e.Run < 1 || e.Run > 4 || files["art/sub/a.txt"] != "same result" {
		t.Errorf("pulled %+v %v", e, files)
	}
}

// A registry that does not answer is asked once, then left alone for
// RetryAfter: each cacheable job does not wait for the client's retries.
func TestRemoteUnreachableIsLeftAlone(t *testing.T) {
	r, err := jobcache.NewRemote("127.0.0.1:1/o/runner-cache", registry.New(registry.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	err = r.Pull(context.Background(), s, key("a"))
	if err == nil || errors.Is(err, jobcache.ErrMiss) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("first pull: %v", err)
	}
	for _, err := range []error{r.Pull(context.Background(), s, key("b")), r.Push(context.Background(), s, key("b"))} {
		if err == nil || !strings.Contains(err.Error(), "did not answer") {
			t.Errorf("after a refused connection: %v, want the registry left alone", err)
		}
	}
	// A registry that answers (a 404 here) is asked every time.
	ok, _ := remoteFixture(t)
	for range 2 {
		if err := ok.Pull(context.Background(), s, key("c")); !errors.Is(err, jobcache.ErrMiss) {
			t.Errorf("pull from a registry that answers: %v", err)
		}
	}
}
