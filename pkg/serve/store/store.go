package store

import (
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Run states, as GitHub names them.
const (
	Queued     = "queued"
	InProgress = "in_progress"
	Completed  = "completed"
)

// ErrNotFound is returned for a run that does not exist.
var ErrNotFound = errors.New("not found")

// Run is one workflow run.
type Run struct {
	ID           int64
	Repo         string // owner/name
	WorkflowFile string // path in the repository, e.g. .github/workflows/build.yaml
	WorkflowName string
	Source       string // the workflow file's text at the run's commit
	Event        string
	Ref          string
	SHA          string
	Actor        string
	Inputs       string // JSON object of workflow_dispatch inputs
	Payload      string // JSON of github.event
	Status       string
	Conclusion   string // "" while not completed
	Message      string // why it ended that way, when not obvious
	Group        string // concurrency group, "" for none
	CancelGroup  bool   // cancel-in-progress for Group
	// RunID is the workflow run's id, shared by all its attempts: the ID
	// of its first attempt. ID is the attempt's own key (its log, its
	// engine state).
	RunID   int64
	Attempt int
	RerunOf int64  // ID of the attempt this one re-runs
	Reuse   string // JSON map of job id to run.Reused, for re-running failed jobs
	NoCache bool   // run the jobs without looking the job cache up (a re-run without cache)
	Created time.Time
	Started time.Time
	Updated time.Time
}

// Job is one job (or matrix leg) of a run attempt.
type Job struct {
	ID         int64 // unique over the service
	RunID      int64 // the attempt's Run.ID
	Key        string
	Name       string
	Status     string
	Conclusion string
	Started    time.Time
	Completed  time.Time
	// CachedRun and CachedKey say where a job restored from the job
	// cache came from (the run that stored it, the key); 0 and "" for a
	// job that ran.
	CachedRun int64
	CachedKey string
	// Runner is where the job ran when not in the service's process: a
	// Kubernetes pod's name. "" for here.
	Runner string
	// Leg is a matrix leg's index in its job's expansion (0 without a
	// matrix): legs are listed in this order, not the order they started.
	Leg int
}

// Step is one step of a job.
type Step struct {
	RunID      int64
	Job        string
	Number     int
	Name       string
	Status     string
	Conclusion string
	Started    time.Time
	Completed  time.Time
}

// Store is the database. Its methods are safe for concurrent use.
type Store struct {
	// db is the one writer connection: writes are serialized without
	// SQLITE_BUSY. The scheduler's and the triggers' reads stay on it.
	db *sql.DB
	// rd are read connections for the list and get calls: in WAL mode
	// readers run beside the writer and each other, each on the last
	// committed state when its statement (or transaction) begins.
	rd *sql.DB
	// gen is the write generation: it grows after every write that
	// changes what a list or a get of runs shows (a run created, changed
	// or deleted, a workflow numbered or disabled), once the write is
	// committed. Every such method of Store calls wrote, which records
	// what changed in changes (changes.go).
	gen     atomic.Uint64
	changes changes
}

// readers is how many read connections run at once: the machine's
// cores, and a few more so that a reader waiting on the disk does not
// hold the others up.
const readers = 4

// Gen is the store's write generation (see Store.gen): an answer
// rendered from reads begun after Gen returned g is current as long as
// Gen still returns g.
func (s *Store) Gen() uint64 { return s.gen.Load() }

const schema = `
CREATE TABLE IF NOT EXISTS runs (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	repo TEXT NOT NULL, workflow_file TEXT NOT NULL, workflow_name TEXT NOT NULL, source TEXT NOT NULL,
	event TEXT NOT NULL, ref TEXT NOT NULL, sha TEXT NOT NULL, actor TEXT NOT NULL,
	inputs TEXT NOT NULL, payload TEXT NOT NULL,
	status TEXT NOT NULL, conclusion TEXT NOT NULL, message TEXT NOT NULL,
	grp TEXT NOT NULL, cancel_group INTEGER NOT NULL, attempt INTEGER NOT NULL, rerun_of INTEGER NOT NULL,
	reuse TEXT NOT NULL, created INTEGER NOT NULL, started INTEGER NOT NULL, updated INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE TABLE IF NOT EXISTS jobs (
	run_id INTEGER NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,
	status TEXT NOT NULL, conclusion TEXT NOT NULL, started INTEGER NOT NULL, completed INTEGER NOT NULL,
	PRIMARY KEY (run_id, key));
CREATE TABLE IF NOT EXISTS steps (
	run_id INTEGER NOT NULL, job TEXT NOT NULL, number INTEGER NOT NULL, name TEXT NOT NULL,
	status TEXT NOT NULL, conclusion TEXT NOT NULL, started INTEGER NOT NULL, completed INTEGER NOT NULL,
	PRIMARY KEY (run_id, job, number));
CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS heads (repo TEXT NOT NULL, branch TEXT NOT NULL, sha TEXT NOT NULL, PRIMARY KEY (repo, branch));
`

// Open opens or creates the database file.
func Open(path string) (*Store, error) {
	// Pages are read through a memory map (no read system call per page,
	// and the connections share the kernel's copy); a run's workflow
	// text makes its row span overflow pages that a list walks through.
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=mmap_size(1073741824)"
	db, err := sql.Open("sqlite", dsn+"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// One writer connection: writes are serialized without SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate schema in %s: %w", path, err)
	}
	// The readers open once the schema is there and the file in WAL mode
	// (which the file keeps); query_only makes a write through them an
	// error.
	rd, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	rd.SetMaxOpenConns(readers)
	rd.SetMaxIdleConns(readers)
	return &Store{db: db, rd: rd}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.rd.Close(), s.db.Close())
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// CreateRun inserts r as queued and sets its ID and times.
func (s *Store) CreateRun(r *Run) error {
	return s.CreateRunGrouped(r, nil)
}

// CreateRunGrouped is CreateRun for a run whose concurrency group depends on
// its id (`${{ github.run_id }}`): group gets the new id and returns the
// group and cancel-in-progress, stored in the same transaction, so the run
// is never seen without them. A group error creates nothing.
func (s *Store) CreateRunGrouped(r *Run, group func(id int64) (string, bool, error)) error {
	now := time.Now()
	r.Status, r.Created, r.Updated = Queued, now, now
	// A first attempt adds a run; a re-run's attempt hides the one before.
	kind := Added
	if r.RunID != 0 {
		kind = AnyChange
	}
	defer func() { s.wrote(kind, r.ID) }()
	if r.Attempt == 0 {
		r.Attempt = 1
	}
	for _, p := range []*string{&r.Inputs, &r.Payload, &r.Reuse} {
		if *p == "" {
			*p = "{}"
		}
	}
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("insert run: %w", err)
	}
	defer tx.Rollback()
	// A re-run's attempt keeps its workflow run's creation, as on GitHub
	// (created_at and the created filter are the run's; run_started_at
	// resets); Updated is when the attempt was made.
	created := ms(now)
	if r.RunID != 0 {
		if err := tx.QueryRow(`SELECT created FROM runs WHERE id = ?`, r.RunID).Scan(&created); err != nil {
			return fmt.Errorf("insert run: run %d: %w", r.RunID, err)
		}
		r.Created = fromMS(created)
	}
	res, err := tx.Exec(`INSERT INTO runs (repo, workflow_file, workflow_name, source, event, ref, sha, actor, inputs, payload,
		status, conclusion, message, grp, cancel_group, attempt, rerun_of, reuse, no_cache, created, started, updated)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.Repo, r.WorkflowFile, r.WorkflowName, r.Source, r.Event, r.Ref, r.SHA, r.Actor, r.Inputs, r.Payload,
		r.Status, "", r.Message, r.Group, r.CancelGroup, r.Attempt, r.RerunOf, r.Reuse, r.NoCache, created, 0, ms(now))
	if err != nil {
		return fmt.Errorf("insert run: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert run: %w", err)
	}
	runID := r.RunID
	if runID == 0 {
		runID = id
	}
	if _, err := tx.Exec(`UPDATE runs SET run_id = ? WHERE id = ?`, runID, id); err != nil {
		return fmt.Errorf("insert run: %w", err)
	}
	// The new attempt is the run's latest: the list calls show it alone.
	if _, err := tx.Exec(`UPDATE runs SET latest = 0 WHERE run_id = ? AND id != ?`, runID, id); err != nil {
		return fmt.Errorf("insert run: %w", err)
	}
	if group != nil {
		g, cancel, err := group(id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE runs SET grp = ?, cancel_group = ? WHERE id = ?`, g, cancel, id); err != nil {
			return fmt.Errorf("insert run: %w", err)
		}
		r.Group, r.CancelGroup = g, cancel
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("insert run: %w", err)
	}
	r.ID, r.RunID = id, runID
	return nil
}

const runCols = `id, run_id, repo, workflow_file, workflow_name, source, event, ref, sha, actor, inputs, payload,
	status, conclusion, message, grp, cancel_group, attempt, rerun_of, reuse, no_cache, created, started, updated`

func scanRun(sc interface{ Scan(...any) error }) (*Run, error) {
	r := &Run{}
	var created, started, updated int64
	err := sc.Scan(&r.ID, &r.RunID, &r.Repo, &r.WorkflowFile, &r.WorkflowName, &r.Source, &r.Event, &r.Ref, &r.SHA, &r.Actor,
		&r.Inputs, &r.Payload, &r.Status, &r.Conclusion, &r.Message, &r.Group, &r.CancelGroup, &r.Attempt,
		&r.RerunOf, &r.Reuse, &r.NoCache, &created, &started, &updated)
	if err != nil {
		return nil, err
	}
	r.Created, r.Started, r.Updated = fromMS(created), fromMS(started), fromMS(updated)
	return r, nil
}

// Run returns one run.
func (s *Store) Run(id int64) (*Run, error) {
	r, err := scanRun(s.rd.QueryRow(`SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return r, err
}

// Pending is a queued run as the scheduler sees it.
type Pending struct {
	ID    int64
	Repo  string
	Group string
}

// QueuedRuns lists queued runs, oldest first, without their (possibly
// large) workflow text and payload.
func (s *Store) QueuedRuns() ([]Pending, error) {
	rows, err := s.db.Query(`SELECT id, repo, grp FROM runs WHERE status = 'queued' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Pending
	for rows.Next() {
		var p Pending
		if err := rows.Scan(&p.ID, &p.Repo, &p.Group); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Start marks a queued run in progress; false when it was not queued
// (cancelled meanwhile).
func (s *Store) Start(id int64) (bool, error) {
	defer s.wrote(StatusChanged, id)
	now := ms(time.Now())
	res, err := s.db.Exec(`UPDATE runs SET status = 'in_progress', started = ?, updated = ? WHERE id = ? AND status = 'queued'`, now, now, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Finish marks a run completed. A run already completed keeps its first
// conclusion.
func (s *Store) Finish(id int64, conclusion, message string) error {
	defer s.wrote(StatusChanged, id)
	_, err := s.db.Exec(`UPDATE runs SET status = 'completed', conclusion = ?, message = ?, updated = ? WHERE id = ? AND status != 'completed'`,
		conclusion, message, ms(time.Now()), id)
	if err != nil {
		return err
	}
	// Whatever was still open in the run ends with it.
	c := conclusion
	if c == "success" {
		c = "cancelled"
	}
	now := ms(time.Now())
	if _, err := s.db.Exec(`UPDATE jobs SET status = 'completed', conclusion = ?, completed = ? WHERE run_id = ? AND status != 'completed'`, c, now, id); err != nil {
		return err
	}
	_, err = s.db.Exec(`UPDATE steps SET status = 'completed', conclusion = ?, completed = ? WHERE run_id = ? AND status != 'completed'`, c, now, id)
	return err
}

// CancelQueued ends a run that is still queued as cancelled; false when it
// is not queued any more.
func (s *Store) CancelQueued(id int64, message string) (bool, error) {
	defer s.wrote(StatusChanged, id)
	res, err := s.db.Exec(`UPDATE runs SET status = 'completed', conclusion = 'cancelled', message = ?, updated = ? WHERE id = ? AND status = 'queued'`,
		message, ms(time.Now()), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Recover marks every run left in progress (by a process that died) as
// failed with message, and returns their ids.
func (s *Store) Recover(message string) ([]int64, error) {
	rows, err := s.db.Query(`SELECT id FROM runs WHERE status = 'in_progress'`)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if err := s.Finish(id, "failure", message); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// JobStarted records that a job began.
func (s *Store) JobStarted(run int64, key, name string, at time.Time) error {
	_, err := s.db.Exec(`INSERT INTO jobs (id, run_id, key, seq, name, status, conclusion, started, completed)
		VALUES (`+nextJobID+`, ?, ?, (SELECT count(*) FROM jobs WHERE run_id = ?), ?, 'in_progress', '', ?, 0)
		ON CONFLICT (run_id, key) DO UPDATE SET name = excluded.name, status = 'in_progress', started = excluded.started`,
		run, key, run, name, ms(at))
	return err
}

// JobEnded records a job's conclusion; a job that never started (skipped)
// gets a row too.
func (s *Store) JobEnded(run int64, key, conclusion string, at time.Time) error {
	_, err := s.db.Exec(`INSERT INTO jobs (id, run_id, key, seq, name, status, conclusion, started, completed)
		VALUES (`+nextJobID+`, ?, ?, (SELECT count(*) FROM jobs WHERE run_id = ?), ?, 'completed', ?, ?, ?)
		ON CONFLICT (run_id, key) DO UPDATE SET status = 'completed', conclusion = excluded.conclusion, completed = excluded.completed`,
		run, key, run, key, conclusion, ms(at), ms(at))
	return err
}

// JobCached records that a job's result was restored from the job cache:
// the run that stored it and the key.
func (s *Store) JobCached(run int64, key string, fromRun int64, cacheKey string) error {
	_, err := s.db.Exec(`UPDATE jobs SET cached_run = ?, cached_key = ? WHERE run_id = ? AND key = ?`, fromRun, cacheKey, run, key)
	return err
}

// JobRunner records the runner a job runs on (a pod's name).
func (s *Store) JobRunner(run int64, key, runner string) error {
	_, err := s.db.Exec(`UPDATE jobs SET runner = ? WHERE run_id = ? AND key = ?`, runner, run, key)
	return err
}

// StepStarted records a new step of a job and returns its number (1-based).
func (s *Store) StepStarted(run int64, job, name string, at time.Time) (int, error) {
	var n int
	err := s.db.QueryRow(`INSERT INTO steps (run_id, job, number, name, status, conclusion, started, completed)
		VALUES (?, ?, (SELECT count(*) + 1 FROM steps WHERE run_id = ? AND job = ?), ?, 'in_progress', '', ?, 0)
		RETURNING number`, run, job, run, job, name, ms(at)).Scan(&n)
	return n, err
}

// StepEnded completes the job's latest open step with that name.
func (s *Store) StepEnded(run int64, job, name, conclusion string, at time.Time) error {
	_, err := s.db.Exec(`UPDATE steps SET status = 'completed', conclusion = ?, completed = ?
		WHERE run_id = ? AND job = ? AND number = (SELECT max(number) FROM steps WHERE run_id = ? AND job = ? AND name = ?)`,
		conclusion, ms(at), run, job, run, job, name)
	return err
}

// nextJobID numbers a new job: job ids are unique over the service and
// never given again, as GitHub's (the store has one connection, so inserts
// are serialized; job_ids keeps the last id given, migration 9).
const nextJobID = `(SELECT last + 1 FROM job_ids)`

const jobCols = `id, run_id, key, name, status, conclusion, started, completed, cached_run, cached_key, runner, leg`

func scanJob(sc interface{ Scan(...any) error }) (*Job, error) {
	j := &Job{}
	var st, co int64
	if err := sc.Scan(&j.ID, &j.RunID, &j.Key, &j.Name, &j.Status, &j.Conclusion, &st, &co, &j.CachedRun, &j.CachedKey, &j.Runner, &j.Leg); err != nil {
		return nil, err
	}
	j.Started, j.Completed = fromMS(st), fromMS(co)
	return j, nil
}

// Jobs lists a run attempt's jobs in the order they started.
func (s *Store) Jobs(run int64) ([]*Job, error) {
	rows, err := s.rd.Query(`SELECT `+jobCols+` FROM jobs WHERE run_id = ? ORDER BY seq`, run)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// Job returns the job with that id.
func (s *Store) Job(id int64) (*Job, error) {
	j, err := scanJob(s.rd.QueryRow(`SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("job %d: %w", id, ErrNotFound)
	}
	return j, err
}

// Steps lists a run's steps by job and number.
func (s *Store) Steps(run int64) ([]*Step, error) {
	rows, err := s.rd.Query(`SELECT run_id, job, number, name, status, conclusion, started, completed FROM steps WHERE run_id = ? ORDER BY job, number`, run)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Step
	for rows.Next() {
		st := &Step{}
		var a, b int64
		if err := rows.Scan(&st.RunID, &st.Job, &st.Number, &st.Name, &st.Status, &st.Conclusion, &a, &b); err != nil {
			return nil, err
		}
		st.Started, st.Completed = fromMS(a), fromMS(b)
		out = append(out, st)
	}
	return out, rows.Err()
}

// Counts returns the number of runs by status and conclusion
// ("status/conclusion" keys).
func (s *Store) Counts() (map[string]int, error) {
	rows, err := s.rd.Query(`SELECT status, conclusion, count(*) FROM runs GROUP BY status, conclusion`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st, c string
		var n int
		if err := rows.Scan(&st, &c, &n); err != nil {
			return nil, err
		}
		out[st+"/"+c] = n
	}
	return out, rows.Err()
}

// JobDurations returns the durations of completed jobs that ran.
func (s *Store) JobDurations() ([]time.Duration, error) {
	rows, err := s.rd.Query(`SELECT completed - started FROM jobs WHERE status = 'completed' AND started > 0 AND completed >= started`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, time.Duration(d)*time.Millisecond)
	}
	return out, rows.Err()
}

// Head returns the last seen commit of a watched branch ("" if none).
func (s *Store) Head(repo, branch string) (string, error) {
	var sha string
	err := s.db.QueryRow(`SELECT sha FROM heads WHERE repo = ? AND branch = ?`, repo, branch).Scan(&sha)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return sha, err
}

// SetHead records the last seen commit of a watched branch.
func (s *Store) SetHead(repo, branch, sha string) error {
	_, err := s.db.Exec(`INSERT INTO heads (repo, branch, sha) VALUES (?, ?, ?) ON CONFLICT (repo, branch) DO UPDATE SET sha = excluded.sha`, repo, branch, sha)
	return err
}

// Delivered reports whether a webhook delivery id was handled before
// (GitHub redelivers on timeouts and on request).
func (s *Store) Delivered(id string) (bool, error) {
	var n int
	err := s.db.QueryRow(`SELECT count(*) FROM deliveries WHERE id = ?`, id).Scan(&n)
	return n > 0, err
}

// RecordDelivery records a webhook delivery id as handled.
func (s *Store) RecordDelivery(id string) error {
	_, err := s.db.Exec(`INSERT INTO deliveries (id, at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, ms(time.Now()))
	return err
}
