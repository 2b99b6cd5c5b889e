package store_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/serve/store"
)

func TestLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a := &store.Run{Repo: "o/r", WorkflowFile: "w.yaml", WorkflowName: "W", Source: "on: push", Event: "push"}
	b := &store.Run{Repo: "o/r", WorkflowFile: "w.yaml", WorkflowName: "W", Source: "on: push", Event: "push"}
	for _, r := range []*store.Run{a, b} {
		if err := s.CreateRun(r); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.Start(a.ID); !ok || err != nil {
		t.Fatalf("start: %v %v", ok, err)
	}
	if ok, _ := s.Start(a.ID); ok {
		t.Fatal("a run starts once")
	}
	now := time.Now()
	if err := s.JobStarted(a.ID, "build", "Build", now); err != nil {
		t.Fatal(err)
	}
	if n, err := s.StepStarted(a.ID, "build", "Run echo", now); n != 1 || err != nil {
		t.Fatalf("step %d %v", n, err)
	}
	if err := s.StepEnded(a.ID, "build", "Run echo", "success", now); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.StepStarted(a.ID, "build", "Run sleep", now); n != 2 {
		t.Fatalf("second step number %d", n)
	}
	s.Close()

	// A new process: the in-progress run fails, the queued one stays.
	s, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids, err := s.Recover("runner restarted")
	if err != nil || len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("recover: %v %v", ids, err)
	}
	got, _ := s.Run(a.ID)
	if got.Status != store.Completed || got.Conclusion != "failure" || got.Message != "runner restarted" {
		t.Fatalf("recovered run: %+v", got)
	}
	steps, _ := s.Steps(a.ID)
	if len(steps) != 2 || steps[0].Conclusion != "success" || steps[1].Conclusion != "failure" {
		t.Fatalf("steps: %+v %+v", steps[0], steps[1])
	}
	q, _ := s.QueuedRuns()
	if len(q) != 1 || q[0].ID != b.ID {
		t.Fatalf("queued: %v", q)
	}
	runs, total, _ := s.Runs(store.Filter{})
	if total != 2 || runs[0].ID != b.ID {
		t.Fatalf("runs: %d %v", total, runs)
	}
	if _, err := s.Run(99); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
	if err := s.SetHead("o/r", "main", "abc"); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Head("o/r", "main"); h != "abc" {
		t.Fatalf("head %q", h)
	}
}
