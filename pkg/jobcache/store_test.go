package jobcache_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/jobcache"
)

func key(s string) string { return strings.TrimPrefix(jobcache.Digest(s), "sha256:") }

func artifact(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "a.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPutGetRestore(t *testing.T) {
	s, err := jobcache.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	k := key("one")
	if _, err := s.Get(k); err != jobcache.ErrMiss {
		t.Fatalf("empty store: %v", err)
	}
	if err := s.Put(jobcache.Entry{Key: k, Run: 3, Conclusion: "success", Outputs: map[string]string{"o": "v"}}, map[string]string{"art": artifact(t, "hello")}); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(k)
	if err != nil || e.Run != 3 || e.Outputs["o"] != "v" || e.Size != 5+2 || len(e.Artifacts) != 1 {
		t.Fatalf("got %+v, %v", e, err)
	}
	dst := filepath.Join(t.TempDir(), "art")
	if err := s.Restore(k, e.Artifacts[0], dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "sub", "a.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("restored %q %v", b, err)
	}
	// A changed file is refused, and nothing is left at dst.
	if err := os.WriteFile(filepath.Join(s.Dir, "entries", k, "artifacts", "art", "sub", "a.txt"), []byte("hellO"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst2 := filepath.Join(filepath.Dir(dst), "art2")
	if err := s.Restore(k, e.Artifacts[0], dst2); err == nil {
		t.Fatal("a corrupted file was restored")
	}
	if left, _ := os.ReadDir(filepath.Dir(dst)); len(left) != 1 {
		t.Errorf("a failed restore left files: %v", left)
	}
}

func TestConcurrentPutSameKey(t *testing.T) {
	s, err := jobcache.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	k := key("same")
	art := artifact(t, "payload")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- s.Put(jobcache.Entry{Key: k, Run: i, Conclusion: "success"}, map[string]string{"a": art})
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	e, err := s.Get(k)
	if err != nil || len(e.Artifacts) != 1 || e.Size != 7 {
		t.Fatalf("%+v %v", e, err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(s.Dir, "tmp")); len(tmp) != 0 {
		t.Errorf("tmp holds leftovers: %v", tmp)
	}
}

func TestPruneLRUAndRemove(t *testing.T) {
	s, err := jobcache.Open(t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := key("a"), key("b"), key("c")
	put := func(k string) {
		t.Helper()
		if err := s.Put(jobcache.Entry{Key: k, Conclusion: "success"}, map[string]string{"x": artifact(t, "12345")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // distinct use times
	}
	put(a)
	put(b)
	s.Touch(a) // a is now more recently used than b
	time.Sleep(5 * time.Millisecond)
	put(c) // 15 bytes > 10: the least recently used (b) goes
	if _, err := s.Get(b); err != jobcache.ErrMiss {
		t.Errorf("b survived: %v", err)
	}
	for _, k := range []string{a, c} {
		if _, err := s.Get(k); err != nil {
			t.Errorf("%s: %v", k[:6], err)
		}
	}
	if _, err := s.Remove("ab"); err == nil {
		t.Error("a 2-digit prefix was accepted")
	}
	removed, err := s.Remove(a[:8])
	if err != nil || len(removed) != 1 || removed[0] != a {
		t.Errorf("remove: %v %v", removed, err)
	}
	if gone, err := s.Prune(0); err != nil || len(gone) != 1 {
		t.Errorf("prune all: %v %v", gone, err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("left: %v", list)
	}
}

func TestKeyCanonical(t *testing.T) {
	k1 := jobcache.NewKey([]jobcache.Part{{Name: "a", Value: "bc"}, {Name: "x", Value: ""}})
	k2 := jobcache.NewKey([]jobcache.Part{{Name: "x", Value: ""}, {Name: "a", Value: "bc"}})
	k3 := jobcache.NewKey([]jobcache.Part{{Name: "a", Value: "b"}, {Name: "cx", Value: ""}})
	if k1.Sum != k2.Sum {
		t.Error("part order changed the key")
	}
	if k1.Sum == k3.Sum {
		t.Error("parts that concatenate alike collide")
	}
}

// An entry.json naming an artifact outside its folder is refused, and
// nothing is written outside the run's artifacts.
func TestRestoreRefusesEscapingNames(t *testing.T) {
	s, err := jobcache.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	k := key("esc")
	if err := s.Put(jobcache.Entry{Key: k, Conclusion: "success"}, map[string]string{"art": artifact(t, "x")}); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	// A tampered entry: artifact "../outside", its files where that name
	// leads inside the entry.
	if err := os.Rename(filepath.Join(s.Dir, "entries", k, "artifacts", "art"), filepath.Join(s.Dir, "entries", k, "outside")); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	arts := filepath.Join(root, "artifacts")
	if err := os.Mkdir(arts, 0o755); err != nil {
		t.Fatal(err)
	}
	bad := jobcache.Artifact{Name: "../outside", Files: e.Artifacts[0].Files}
	if err := s.Restore(k, bad, filepath.Join(arts, bad.Name)); err == nil {
		t.Errorf("restored %+v", bad)
	}
	if left, _ := os.ReadDir(root); len(left) != 1 {
		t.Errorf("written outside the artifacts: %v", left)
	}
}

// Entries without artifacts count their outputs and summary against the
// cap too: else a store of them would grow without end.
func TestPruneCountsOutputsAndSummary(t *testing.T) {
	s, err := jobcache.Open(t.TempDir(), 3000)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("o", 1000)
	for i := 0; i < 5; i++ {
		if err := s.Put(jobcache.Entry{Key: key(string(rune('a' + i))), Conclusion: "success", Outputs: map[string]string{"o": big}, Summary: big}, nil); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range list {
		total += e.Size
	}
	if len(list) >= 5 || total > 3000 {
		t.Errorf("%d entries, %d bytes under a 3000-byte cap", len(list), total)
	}
}
