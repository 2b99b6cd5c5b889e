package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Filter selects runs, as GitHub's list calls do; zero fields select
// everything. Only each workflow run's latest attempt is listed.
type Filter struct {
	Repo         string
	WorkflowFile string
	Status       string // queued, in_progress, completed
	Conclusion   string // success, failure, cancelled, ...
	Branch       string // head_branch: a branch or tag name
	Event        string
	Actor        string
	SHA          string
	// Created bounds the creation time: From inclusive, To exclusive;
	// zero for no bound.
	CreatedFrom, CreatedTo time.Time
	Limit                  int // default 30
	Offset                 int
}

// MatchesApartFromStatus tells whether Runs(f) would select attempt r
// (a workflow run's latest) were it not for f's Status and Conclusion:
// the conditions Runs puts in SQL, on the attributes of a run that never
// change.
func (f Filter) MatchesApartFromStatus(r *Run) bool {
	switch {
	case f.Repo != "" && r.Repo != f.Repo,
		f.WorkflowFile != "" && r.WorkflowFile != f.WorkflowFile,
		f.Branch != "" && r.Ref != "refs/heads/"+f.Branch && r.Ref != "refs/tags/"+f.Branch && r.Ref != f.Branch,
		f.Event != "" && r.Event != f.Event,
		f.Actor != "" && !asciiEqualFold(r.Actor, f.Actor),
		f.SHA != "" && r.SHA != f.SHA,
		!f.CreatedFrom.IsZero() && ms(r.Created) < f.CreatedFrom.UnixMilli(),
		!f.CreatedTo.IsZero() && ms(r.Created) >= f.CreatedTo.UnixMilli():
		return false
	}
	return true
}

// asciiEqualFold is SQLite's NOCASE comparison: ASCII letters fold, no
// other character does.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// latestOnly keeps a workflow run's latest attempt (CreateRun keeps the
// mark on its newest attempt).
const latestOnly = `latest = 1`

// listCols are runCols without the workflow's text, the payload and the
// reuse map, which no list shows: a page of 100 runs read them all, a few
// KB each.
const listCols = `id, run_id, repo, workflow_file, workflow_name, '', event, ref, sha, actor, inputs, '',
	status, conclusion, message, grp, cancel_group, attempt, rerun_of, '', no_cache, created, started, updated`

// Runs lists runs, newest first, and the total count matching f; their
// Source, Payload and Reuse are empty (Run and Latest have them).
func (s *Store) Runs(f Filter) ([]*Run, int, error) { return s.RunsKnown(f, nil) }

// RunsKnown is Runs for a caller that keeps some run attempts already:
// known tells, by an attempt's id, status and last update, whether the
// caller has it, and those attempts come back with only ID, Status and
// Updated set. Reading a run's columns costs ten times more than its id
// and update (≈ 14 µs against 1 µs a run), and a completed attempt does
// not change.
func (s *Store) RunsKnown(f Filter, known func(id int64, status string, updated time.Time) bool) ([]*Run, int, error) {
	where := []string{latestOnly}
	var args []any
	add := func(cond string, a ...any) { where, args = append(where, cond), append(args, a...) }
	if f.Repo != "" {
		add("repo = ?", f.Repo)
	}
	if f.WorkflowFile != "" {
		add("workflow_file = ?", f.WorkflowFile)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.Conclusion != "" {
		add("conclusion = ?", f.Conclusion)
	}
	if f.Branch != "" {
		add("ref IN (?, ?, ?)", "refs/heads/"+f.Branch, "refs/tags/"+f.Branch, f.Branch)
	}
	if f.Event != "" {
		add("event = ?", f.Event)
	}
	if f.Actor != "" {
		add("actor = ? COLLATE NOCASE", f.Actor) // as GitHub logins; runs_latest_actor_nocase
	}
	if f.SHA != "" {
		add("sha = ?", f.SHA)
	}
	if !f.CreatedFrom.IsZero() {
		add("created >= ?", f.CreatedFrom.UnixMilli())
	}
	if !f.CreatedTo.IsZero() {
		add("created < ?", f.CreatedTo.UnixMilli())
	}
	cond := " WHERE " + strings.Join(where, " AND ")
	// The count and the page from one snapshot, on a read connection.
	tx, err := s.rd.Begin()
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRow(`SELECT count(*) FROM runs`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if f.Limit <= 0 {
		f.Limit = 30
	}
	if known == nil {
		out, err := scanRuns(tx, `SELECT `+listCols+` FROM runs`+cond+` ORDER BY run_id DESC LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
		return out, total, err
	}
	rows, err := tx.Query(`SELECT id, status, updated FROM runs`+cond+` ORDER BY run_id DESC LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	var out []*Run
	var missing []any
	for rows.Next() {
		r := &Run{}
		var updated int64
		if err := rows.Scan(&r.ID, &r.Status, &updated); err != nil {
			rows.Close()
			return nil, 0, err
		}
		r.Updated = fromMS(updated)
		if !known(r.ID, r.Status, r.Updated) {
			missing = append(missing, r.ID)
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(missing) == 0 {
		return out, total, err
	}
	full, err := scanRuns(tx, `SELECT `+listCols+` FROM runs WHERE id IN (?`+strings.Repeat(",?", len(missing)-1)+`)`, missing...)
	if err != nil {
		return nil, 0, err
	}
	byID := make(map[int64]*Run, len(full))
	for _, r := range full {
		byID[r.ID] = r
	}
	for i, r := range out {
		if f, ok := byID[r.ID]; ok {
			out[i] = f
		}
	}
	return out, total, nil
}

func scanRuns(tx *sql.Tx, query string, args ...any) ([]*Run, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Latest returns the latest attempt of workflow run runID.
func (s *Store) Latest(runID int64) (*Run, error) {
	r, err := scanRun(s.rd.QueryRow(`SELECT `+runCols+` FROM runs WHERE run_id = ? ORDER BY attempt DESC LIMIT 1`, runID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d: %w", runID, ErrNotFound)
	}
	return r, err
}

// Attempt returns attempt n of workflow run runID.
func (s *Store) Attempt(runID int64, n int) (*Run, error) {
	r, err := scanRun(s.rd.QueryRow(`SELECT `+runCols+` FROM runs WHERE run_id = ? AND attempt = ?`, runID, n))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d attempt %d: %w", runID, n, ErrNotFound)
	}
	return r, err
}

// Attempts lists the attempts of workflow run runID, latest first.
func (s *Store) Attempts(runID int64) ([]*Run, error) {
	rows, err := s.rd.Query(`SELECT `+runCols+` FROM runs WHERE run_id = ? ORDER BY attempt DESC`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if len(out) == 0 && rows.Err() == nil {
		return nil, fmt.Errorf("run %d: %w", runID, ErrNotFound)
	}
	return out, rows.Err()
}

// LastAttempt returns the highest attempt number of the workflow run that
// attempt id belongs to.
func (s *Store) LastAttempt(id int64) (int, error) {
	var n sql.NullInt64
	err := s.rd.QueryRow(`SELECT max(attempt) FROM runs WHERE run_id = (SELECT run_id FROM runs WHERE id = ?)`, id).Scan(&n)
	if err != nil {
		return 0, err
	}
	if !n.Valid {
		return 0, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return int(n.Int64), nil
}

// Workflow is a workflow file of a repository as the API numbers it.
type Workflow struct {
	ID       int64
	Repo     string
	Path     string
	Created  time.Time
	Disabled bool // PUT …/disable: no dispatch, push or poll runs it
}

// Workflow returns the workflow of repo at path, numbering it the first
// time: a path keeps its id for good.
func (s *Store) Workflow(repo, path string) (*Workflow, error) {
	res, err := s.db.Exec(`INSERT INTO workflows (repo, path, created) VALUES (?, ?, ?) ON CONFLICT (repo, path) DO NOTHING`, repo, path, ms(time.Now()))
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		s.wrote(AnyChange, 0)
	}
	w := &Workflow{Repo: repo, Path: path}
	var created int64
	if err := s.db.QueryRow(`SELECT id, created, disabled FROM workflows WHERE repo = ? AND path = ?`, repo, path).Scan(&w.ID, &created, &w.Disabled); err != nil {
		return nil, err
	}
	w.Created = fromMS(created)
	return w, nil
}

// WorkflowByID returns the workflow numbered id.
func (s *Store) WorkflowByID(id int64) (*Workflow, error) {
	w := &Workflow{ID: id}
	var created int64
	err := s.rd.QueryRow(`SELECT repo, path, created, disabled FROM workflows WHERE id = ?`, id).Scan(&w.Repo, &w.Path, &created, &w.Disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("workflow %d: %w", id, ErrNotFound)
	}
	w.Created = fromMS(created)
	return w, err
}
