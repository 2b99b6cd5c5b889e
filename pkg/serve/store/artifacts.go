package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Artifact is a named artifact of one run attempt, numbered over the
// service.
type Artifact struct {
	ID      int64
	Run     int64  // the attempt's Run.ID
	Name    string // unique in its attempt
	Dir     string // where its files are
	Size    int64
	Created time.Time
}

const artifactCols = `a.id, a.run, a.name, a.dir, a.size, a.created`

func scanArtifact(sc interface{ Scan(...any) error }) (*Artifact, error) {
	a := &Artifact{}
	var created int64
	if err := sc.Scan(&a.ID, &a.Run, &a.Name, &a.Dir, &a.Size, &created); err != nil {
		return nil, err
	}
	a.Created = fromMS(created)
	return a, nil
}

// AddArtifact records artifact a of its run attempt and sets its ID; an
// artifact of the same name in that attempt is replaced (keeping its id).
func (s *Store) AddArtifact(a *Artifact) error {
	if a.Created.IsZero() {
		a.Created = time.Now()
	}
	err := s.db.QueryRow(`INSERT INTO artifacts (run, name, dir, size, created) VALUES (?,?,?,?,?)
		ON CONFLICT (run, name) DO UPDATE SET dir = excluded.dir, size = excluded.size, created = excluded.created RETURNING id`,
		a.Run, a.Name, a.Dir, a.Size, ms(a.Created)).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("record artifact %q: %w", a.Name, err)
	}
	return nil
}

// ArtifactFilter selects artifacts: of one repository, optionally of one
// workflow run (every attempt) and by exact name, newest first.
type ArtifactFilter struct {
	Repo   string
	RunID  int64 // the workflow run's id; 0: all
	Name   string
	Limit  int
	Offset int
}

// Artifacts lists the artifacts f selects and how many there are in all.
func (s *Store) Artifacts(f ArtifactFilter) ([]*Artifact, int, error) {
	conds, args := []string{"r.repo = ? COLLATE NOCASE"}, []any{f.Repo}
	if f.RunID != 0 {
		conds, args = append(conds, "r.run_id = ?"), append(args, f.RunID)
	}
	if f.Name != "" {
		conds, args = append(conds, "a.name = ?"), append(args, f.Name)
	}
	from := ` FROM artifacts a JOIN runs r ON r.id = a.run WHERE ` + strings.Join(conds, " AND ")
	var total int
	if err := s.db.QueryRow(`SELECT count(*)`+from, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if f.Limit == 0 {
		f.Limit = -1
	}
	rows, err := s.db.Query(`SELECT `+artifactCols+from+` ORDER BY a.id DESC LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*Artifact
	for rows.Next() {
		a, err := scanArtifact(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, a)
	}
	return out, total, rows.Err()
}

// Artifact returns artifact id.
func (s *Store) Artifact(id int64) (*Artifact, error) {
	a, err := scanArtifact(s.db.QueryRow(`SELECT `+artifactCols+` FROM artifacts a WHERE a.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("artifact %d: %w", id, ErrNotFound)
	}
	return a, err
}

// DeleteArtifact forgets artifact id.
func (s *Store) DeleteArtifact(id int64) error {
	_, err := s.db.Exec(`DELETE FROM artifacts WHERE id = ?`, id)
	return err
}

// SetWorkflowDisabled disables or enables workflow id.
func (s *Store) SetWorkflowDisabled(id int64, disabled bool) error {
	defer s.wrote(AnyChange, 0)
	_, err := s.db.Exec(`UPDATE workflows SET disabled = ? WHERE id = ?`, disabled, id)
	return err
}

// DeleteRun deletes every attempt of workflow run runID with its jobs,
// steps and artifacts, and returns the attempts' ids.
func (s *Store) DeleteRun(runID int64) ([]int64, error) {
	defer s.wrote(AnyChange, 0)
	tx, err := s.db.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.Query(`SELECT id FROM runs WHERE run_id = ?`, runID)
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
	if len(ids) == 0 {
		return nil, fmt.Errorf("run %d: %w", runID, ErrNotFound)
	}
	for _, q := range []string{`DELETE FROM artifacts WHERE run IN (SELECT id FROM runs WHERE run_id = ?)`,
		`DELETE FROM steps WHERE run_id IN (SELECT id FROM runs WHERE run_id = ?)`,
		`DELETE FROM annotations WHERE run IN (SELECT id FROM runs WHERE run_id = ?)`,
		`DELETE FROM jobs WHERE run_id IN (SELECT id FROM runs WHERE run_id = ?)`,
		`DELETE FROM runs WHERE run_id = ?`} {
		if _, err := tx.Exec(q, runID); err != nil {
			return nil, fmt.Errorf("delete run %d: %w", runID, err)
		}
	}
	return ids, tx.Commit()
}
