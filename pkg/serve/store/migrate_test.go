package store_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/serve/store"
)

// oldSchema is the schema of the first version, before re-runs kept their
// run id and jobs had ids.
const oldSchema = `
CREATE TABLE runs (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	repo TEXT NOT NULL, workflow_file TEXT NOT NULL, workflow_name TEXT NOT NULL, source TEXT NOT NULL,
	event TEXT NOT NULL, ref TEXT NOT NULL, sha TEXT NOT NULL, actor TEXT NOT NULL,
	inputs TEXT NOT NULL, payload TEXT NOT NULL,
	status TEXT NOT NULL, conclusion TEXT NOT NULL, message TEXT NOT NULL,
	grp TEXT NOT NULL, cancel_group INTEGER NOT NULL, attempt INTEGER NOT NULL, rerun_of INTEGER NOT NULL,
	reuse TEXT NOT NULL, created INTEGER NOT NULL, started INTEGER NOT NULL, updated INTEGER NOT NULL);
CREATE INDEX runs_status ON runs(status);
CREATE TABLE jobs (
	run_id INTEGER NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,
	status TEXT NOT NULL, conclusion TEXT NOT NULL, started INTEGER NOT NULL, completed INTEGER NOT NULL,
	PRIMARY KEY (run_id, key));
CREATE TABLE steps (
	run_id INTEGER NOT NULL, job TEXT NOT NULL, number INTEGER NOT NULL, name TEXT NOT NULL,
	status TEXT NOT NULL, conclusion TEXT NOT NULL, started INTEGER NOT NULL, completed INTEGER NOT NULL,
	PRIMARY KEY (run_id, job, number));
CREATE TABLE deliveries (id TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE heads (repo TEXT NOT NULL, branch TEXT NOT NULL, sha TEXT NOT NULL, PRIMARY KEY (repo, branch));
`

// A database made by the first version opens: each re-run becomes an
// attempt of the run it re-ran (run 1 re-run as 2, 2 re-run as 4; run 3
// alone), old jobs get distinct ids and new ones continue after them.
func TestMigrateOldDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(oldSchema); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for _, r := range []struct {
		id, attempt, rerunOf int
		conclusion           string
	}{{1, 1, 0, "failure"}, {2, 2, 1, "failure"}, {3, 1, 0, "success"}, {4, 3, 2, "success"}} {
		if _, err := db.Exec(`INSERT INTO runs VALUES (?, 'o/r', '.github/workflows/w.yaml', 'W', 'on: push', 'push', 'refs/heads/main', 'abc', 'mona', '{}', '{}', 'completed', ?, '', '', 0, ?, ?, '{}', ?, ?, ?)`,
			r.id, r.conclusion, r.attempt, r.rerunOf, now, now, now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO jobs VALUES (?, 'build', 0, 'Build', 'completed', ?, ?, ?)`, r.id, r.conclusion, now, now); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, want := range map[int64]int64{1: 1, 2: 1, 3: 3, 4: 1} {
		r, err := s.Run(id)
		if err != nil || r.RunID != want {
			t.Fatalf("attempt row %d: run id %v (%v), want %d", id, r, err, want)
		}
	}
	latest, err := s.Latest(1)
	if err != nil || latest.ID != 4 || latest.Attempt != 3 || latest.Conclusion != "success" {
		t.Fatalf("latest attempt of run 1: %+v %v", latest, err)
	}
	if _, err := s.Latest(2); err == nil {
		t.Fatal("row 2 is an attempt of run 1, not a run")
	}
	second, err := s.Attempt(1, 2)
	if err != nil || second.ID != 2 {
		t.Fatalf("attempt 2 of run 1: %+v %v", second, err)
	}
	runs, total, err := s.Runs(store.Filter{})
	if err != nil || total != 2 || len(runs) != 2 || runs[0].RunID != 3 || runs[1].RunID != 1 || runs[1].Attempt != 3 {
		t.Fatalf("runs: %d %v", total, err)
	}
	ids := map[int64]bool{}
	for id := int64(1); id <= 4; id++ {
		jobs, err := s.Jobs(id)
		if err != nil || len(jobs) != 1 || jobs[0].ID == 0 || ids[jobs[0].ID] {
			t.Fatalf("jobs of %d: %+v %v", id, jobs, err)
		}
		ids[jobs[0].ID] = true
	}
	// A re-run after the migration is one more attempt of the same run.
	if n, err := s.LastAttempt(2); n != 3 || err != nil {
		t.Fatalf("last attempt: %d %v", n, err)
	}
	nr := &store.Run{RunID: 1, Attempt: 4, RerunOf: 4, Repo: "o/r", WorkflowFile: ".github/workflows/w.yaml"}
	if err := s.CreateRun(nr); err != nil || nr.RunID != 1 || nr.ID != 5 {
		t.Fatalf("re-run: %+v %v", nr, err)
	}
	if runs, total, err := s.Runs(store.Filter{}); err != nil || total != 2 || len(runs) != 2 || runs[1].ID != nr.ID {
		t.Fatalf("runs after a re-run (run 1 once, as its new attempt): %d %v", total, err)
	}
	if err := s.JobStarted(nr.ID, "build", "Build", time.Now()); err != nil {
		t.Fatal(err)
	}
	jobs, _ := s.Jobs(nr.ID)
	if len(jobs) != 1 || ids[jobs[0].ID] {
		t.Fatalf("new job id %+v collides with %v", jobs, ids)
	}
	if j, err := s.Job(jobs[0].ID); err != nil || j.RunID != nr.ID || j.Key != "build" {
		t.Fatalf("job by id: %+v %v", j, err)
	}
	// Opening again migrates nothing twice.
	s.Close()
	if s, err = store.Open(path); err != nil {
		t.Fatal(err)
	}
	if latest, err := s.Latest(1); err != nil || latest.Attempt != 4 {
		t.Fatalf("reopened: %+v %v", latest, err)
	}
}

// The list filters of GitHub's runs API, each on its own.
func TestRunFilters(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mk := func(ref, event, actor, sha, file string) *store.Run {
		r := &store.Run{Repo: "o/r", WorkflowFile: file, Ref: ref, Event: event, Actor: actor, SHA: sha}
		if err := s.CreateRun(r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	mk("refs/heads/main", "push", "mona", "a1", "w.yaml")
	mk("refs/heads/dev", "workflow_dispatch", "hubot", "b2", "w.yaml")
	mk("refs/tags/v1", "push", "mona", "c3", "x.yaml")
	before := time.Now()
	for _, c := range []struct {
		f    store.Filter
		want int
	}{
		{store.Filter{}, 3}, {store.Filter{Branch: "main"}, 1}, {store.Filter{Branch: "v1"}, 1}, {store.Filter{Branch: "nope"}, 0},
		{store.Filter{Event: "push"}, 2}, {store.Filter{Actor: "hubot"}, 1}, {store.Filter{SHA: "c3"}, 1},
		{store.Filter{WorkflowFile: "w.yaml"}, 2}, {store.Filter{Event: "push", Actor: "mona", Branch: "main"}, 1},
		{store.Filter{CreatedFrom: before.Add(-time.Hour)}, 3}, {store.Filter{CreatedFrom: before.Add(time.Second)}, 0},
		{store.Filter{CreatedTo: before.Add(-time.Hour)}, 0},
	} {
		runs, total, err := s.Runs(c.f)
		if err != nil || total != c.want || len(runs) != c.want {
			t.Errorf("%+v: %d runs (%d listed), want %d: %v", c.f, total, len(runs), c.want, err)
		}
	}
}
