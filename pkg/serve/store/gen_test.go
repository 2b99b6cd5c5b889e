package store_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/serve/store"
)

// Every write that changes what a list or a get of runs shows moves the
// write generation on, once committed (the list cache in pkg/serve keeps
// a page while it stays); the reads do not.
func TestGenMovesWithEveryWrite(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var a, b, c store.Run
	for _, r := range []*store.Run{&a, &b, &c} {
		*r = store.Run{Repo: "o/r", WorkflowFile: "w.yaml", WorkflowName: "W", Source: "on: push", Event: "push"}
	}
	var wf *store.Workflow
	writes := []struct {
		name string
		do   func() error
	}{
		{"CreateRun", func() error { return s.CreateRun(&a) }},
		{"CreateRunGrouped", func() error {
			return s.CreateRunGrouped(&b, func(id int64) (string, bool, error) { return fmt.Sprint("g-", id), false, nil })
		}},
		{"CreateRun of a re-run", func() error { c.RunID, c.Attempt, c.RerunOf = a.RunID, 2, a.ID; return s.CreateRun(&c) }},
		{"Start", func() error { _, err := s.Start(a.ID); return err }},
		{"Finish", func() error { return s.Finish(a.ID, "success", "") }},
		{"CancelQueued", func() error { _, err := s.CancelQueued(b.ID, "cancelled"); return err }},
		{"Recover", func() error { s.Start(c.ID); _, err := s.Recover("died"); return err }},
		{"Workflow (numbered)", func() error { var err error; wf, err = s.Workflow("o/r", "w.yaml"); return err }},
		{"SetWorkflowDisabled", func() error { return s.SetWorkflowDisabled(wf.ID, true) }},
		{"DeleteRun", func() error { _, err := s.DeleteRun(b.RunID); return err }},
	}
	kinds := map[string]store.ChangeKind{"CreateRun": store.Added, "CreateRunGrouped": store.Added, "Start": store.StatusChanged,
		"Finish": store.StatusChanged, "CancelQueued": store.StatusChanged, "Recover": store.StatusChanged}
	for _, w := range writes {
		g := s.Gen()
		if err := w.do(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if s.Gen() <= g {
			t.Errorf("%s: generation %d before, %d after", w.name, g, s.Gen())
		}
		// What changed: a run added or only its status, for one attempt;
		// anything else may change any list.
		changes, ok := s.ChangesSince(g)
		if !ok || len(changes) == 0 || changes[len(changes)-1].Gen != s.Gen() {
			t.Fatalf("%s: changes since %d: %+v %v", w.name, g, changes, ok)
		}
		c := changes[len(changes)-1]
		if c.Kind != kinds[w.name] || (c.Kind != store.AnyChange && c.Run == 0) {
			t.Errorf("%s: change %+v, want kind %d", w.name, c, kinds[w.name])
		}
	}
	if c, _ := s.ChangesSince(0); len(c) != int(s.Gen()) || c[1].Run != b.ID || c[3].Run != a.ID {
		t.Errorf("every change since the start: %+v", c)
	}
	g := s.Gen()
	reads := map[string]func() error{
		"Runs":                func() error { _, _, err := s.Runs(store.Filter{}); return err },
		"Run":                 func() error { _, err := s.Run(a.ID); return err },
		"Latest":              func() error { _, err := s.Latest(a.RunID); return err },
		"Attempts":            func() error { _, err := s.Attempts(a.RunID); return err },
		"Workflow (known)":    func() error { _, err := s.Workflow("o/r", "w.yaml"); return err },
		"WorkflowByID":        func() error { _, err := s.WorkflowByID(wf.ID); return err },
		"Jobs, Steps, Counts": func() error { s.Jobs(a.ID); s.Steps(a.ID); _, err := s.Counts(); return err },
	}
	for name, read := range reads {
		if err := read(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Gen() != g {
			t.Errorf("%s moved the generation", name)
		}
	}
}

// The read connections see a write as soon as it returns, and run beside
// it: lists from many goroutines while runs are created and finished see
// counts that only grow and each page consistent with its count.
func TestReadsBesideWrites(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 60
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				runs, total, err := s.Runs(store.Filter{Limit: 100})
				if err != nil {
					t.Error(err)
					return
				}
				if total < last || len(runs) != total {
					t.Errorf("list: %d runs, total %d, after a total of %d", len(runs), total, last)
					return
				}
				last = total
			}
		}()
	}
	for i := range n {
		r := &store.Run{Repo: "o/r", WorkflowFile: "w.yaml", WorkflowName: "W", Source: "on: push", Event: "push"}
		if err := s.CreateRun(r); err != nil {
			t.Fatal(err)
		}
		// Read-your-write from another connection, at once.
		got, total, err := s.Runs(store.Filter{Limit: 1})
		if err != nil || total != i+1 || got[0].ID != r.ID {
			t.Fatalf("after creating run %d: total %d, %v", r.ID, total, err)
		}
		if err := s.Finish(r.ID, "success", ""); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Run(r.ID); err != nil || got.Status != store.Completed {
			t.Fatalf("after finishing run %d: %+v %v", r.ID, got, err)
		}
	}
	close(done)
	wg.Wait()
}

// RunsKnown gives the page Runs gives, in its order, but the attempts the
// caller says it keeps come back as their id, status and update only.
func TestRunsKnown(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 6 {
		r := &store.Run{Repo: "o/r", WorkflowFile: "w.yaml", WorkflowName: fmt.Sprint("W", i), Source: "on: push", Event: "push"}
		if err := s.CreateRun(r); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			s.Start(r.ID)
			s.Finish(r.ID, "success", "")
		}
	}
	f := store.Filter{Repo: "o/r", Limit: 4, Offset: 1}
	want, wantTotal, err := s.Runs(f)
	if err != nil {
		t.Fatal(err)
	}
	asked := map[int64]string{}
	got, total, err := s.RunsKnown(f, func(id int64, status string, updated time.Time) bool {
		asked[id] = status
		return status == store.Completed
	})
	if err != nil || total != wantTotal || len(got) != len(want) || len(asked) != len(want) {
		t.Fatalf("RunsKnown: %d runs of %d (%v), asked about %v; Runs: %d of %d", len(got), total, err, asked, len(want), wantTotal)
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || g.Status != w.Status || !g.Updated.Equal(w.Updated) || asked[w.ID] != w.Status {
			t.Errorf("run %d: got %d %s %v, want %d %s %v", i, g.ID, g.Status, g.Updated, w.ID, w.Status, w.Updated)
		}
		if kept := w.Status == store.Completed; kept != (g.WorkflowName == "") || (!kept && *g != *w) {
			t.Errorf("run %d (%s): got %+v, want %+v", w.ID, w.Status, g, w)
		}
	}
}

// ChangesSince knows the last 1,024 changes and says so past them.
func TestChangesSinceForgets(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &store.Run{Repo: "o/r", WorkflowFile: "w.yaml", WorkflowName: "W", Source: "on: push", Event: "push"}
	if err := s.CreateRun(r); err != nil {
		t.Fatal(err)
	}
	for range 1100 {
		s.Finish(r.ID, "success", "")
	}
	if c, ok := s.ChangesSince(1); ok || c != nil {
		t.Errorf("1,100 changes later: %d changes, %v", len(c), ok)
	}
	if c, ok := s.ChangesSince(s.Gen() - 1000); !ok || len(c) != 1000 || c[999].Gen != s.Gen() || c[0].Kind != store.StatusChanged {
		t.Errorf("the last 1,000: %d, %v", len(c), ok)
	}
	if c, ok := s.ChangesSince(s.Gen()); !ok || len(c) != 0 {
		t.Errorf("none since now: %v %v", c, ok)
	}
}

// MatchesApartFromStatus selects what Runs selects, filter by filter.
func TestMatchesApartFromStatus(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	refs := []string{"refs/heads/main", "refs/tags/main", "main", "refs/heads/Main", "refs/heads/x/main"}
	var runs []*store.Run
	for i := range 30 {
		r := &store.Run{Repo: []string{"o/r", "o/R", "p/r"}[i%3], WorkflowFile: []string{"a.yaml", "b.yaml"}[i%2],
			WorkflowName: "W", Source: "on: push", Event: []string{"push", "workflow_dispatch", "schedule"}[i%3],
			Ref: refs[i%len(refs)], Actor: []string{"mona", "Mona", "octo"}[i%3], SHA: []string{"aa", "bb"}[i/15]}
		if err := s.CreateRun(r); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
		time.Sleep(2 * time.Millisecond)
	}
	mid := runs[12].Created
	filters := []store.Filter{{}, {Repo: "o/r"}, {Repo: "O/r"}, {WorkflowFile: "b.yaml"}, {Branch: "main"}, {Branch: "Main"},
		{Branch: "x/main"}, {Event: "push"}, {Actor: "Mona"}, {SHA: "bb"}, {CreatedFrom: mid}, {CreatedTo: mid},
		{CreatedFrom: mid, CreatedTo: mid.Add(10 * time.Millisecond)}, {Repo: "o/r", Branch: "main", Event: "push", Actor: "mona"}}
	for _, f := range filters {
		f.Limit = 100
		listed, _, err := s.Runs(f)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]bool{}
		for _, r := range listed {
			want[r.ID] = true
		}
		for _, r := range runs {
			stored, err := s.Run(r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.MatchesApartFromStatus(stored); got != want[r.ID] {
				t.Errorf("filter %+v, run %d (%s %s %s %s %s %s): matches %v, listed %v", f, r.ID, r.Repo, r.WorkflowFile, r.Ref, r.Event, r.Actor, r.SHA, got, want[r.ID])
			}
		}
	}
}
