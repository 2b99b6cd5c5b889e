package store

import (
	"fmt"
	"time"
)

// migrateAnnotations is migration 8: annotations with the properties their
// command gave (they were re-read from the log's one-line text, which
// loses the title, endLine, endColumn and file names with spaces), and a
// job's matrix leg index (legs were listed in the order they started).
const migrateAnnotations = `CREATE TABLE annotations (id INTEGER PRIMARY KEY AUTOINCREMENT, run INTEGER NOT NULL, job TEXT NOT NULL,
		step TEXT NOT NULL, level TEXT NOT NULL, title TEXT NOT NULL, message TEXT NOT NULL, path TEXT NOT NULL,
		start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, start_column INTEGER NOT NULL, end_column INTEGER NOT NULL,
		created INTEGER NOT NULL);
	CREATE INDEX annotations_job ON annotations(run, job);
	ALTER TABLE jobs ADD COLUMN leg INTEGER NOT NULL DEFAULT 0;`

// Annotation is an ::error, ::warning or ::notice of a job's step, with
// the properties its command gave (0 and "" for those it did not).
type Annotation struct {
	Job, Step   string
	Level       string // error, warning, notice
	Title       string
	Message     string
	Path        string
	StartLine   int
	EndLine     int
	StartColumn int
	EndColumn   int
	Created     time.Time
}

// AddAnnotation records an annotation of job key in run attempt run.
func (s *Store) AddAnnotation(run int64, a *Annotation) error {
	_, err := s.db.Exec(`INSERT INTO annotations (run, job, step, level, title, message, path, start_line, end_line, start_column, end_column, created)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`, run, a.Job, a.Step, a.Level, a.Title, a.Message, a.Path, a.StartLine, a.EndLine, a.StartColumn, a.EndColumn, ms(a.Created))
	if err != nil {
		return fmt.Errorf("record annotation: %w", err)
	}
	return nil
}

// Annotations lists the annotations of job key in run attempt run in the
// order they were written; every job's for key "".
func (s *Store) Annotations(run int64, key string) ([]*Annotation, error) {
	rows, err := s.db.Query(`SELECT job, step, level, title, message, path, start_line, end_line, start_column, end_column, created
		FROM annotations WHERE run = ? AND (? = '' OR job = ?) ORDER BY id`, run, key, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Annotation
	for rows.Next() {
		a := &Annotation{}
		var created int64
		if err := rows.Scan(&a.Job, &a.Step, &a.Level, &a.Title, &a.Message, &a.Path, &a.StartLine, &a.EndLine, &a.StartColumn, &a.EndColumn, &created); err != nil {
			return nil, err
		}
		a.Created = fromMS(created)
		out = append(out, a)
	}
	return out, rows.Err()
}

// JobLeg records the matrix leg index of job key in run attempt run.
func (s *Store) JobLeg(run int64, key string, leg int) error {
	_, err := s.db.Exec(`UPDATE jobs SET leg = ? WHERE run_id = ? AND key = ?`, leg, run, key)
	return err
}

// CopyKept gives job key of run attempt to what it had in attempt from,
// whose result it keeps (a re-run of failed jobs, or of one job): its
// steps, annotations, times, leg and where it ran or was restored from,
// as GitHub shows a job kept from the previous attempt. A job from does
// not have is left as it is.
func (s *Store) CopyKept(from, to int64, key string) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{
		`INSERT INTO steps (run_id, job, number, name, status, conclusion, started, completed)
			SELECT ?2, job, number, name, status, conclusion, started, completed FROM steps WHERE run_id = ?1 AND job = ?3
			ON CONFLICT (run_id, job, number) DO NOTHING`,
		`INSERT INTO annotations (run, job, step, level, title, message, path, start_line, end_line, start_column, end_column, created)
			SELECT ?2, job, step, level, title, message, path, start_line, end_line, start_column, end_column, created
			FROM annotations WHERE run = ?1 AND job = ?3 ORDER BY id`,
		`UPDATE jobs SET (started, completed, cached_run, cached_key, runner, leg) =
			(SELECT o.started, o.completed, o.cached_run, o.cached_key, o.runner, o.leg FROM jobs o WHERE o.run_id = ?1 AND o.key = ?3)
			WHERE run_id = ?2 AND key = ?3 AND EXISTS (SELECT 1 FROM jobs o WHERE o.run_id = ?1 AND o.key = ?3)`,
	} {
		if _, err := tx.Exec(q, from, to, key); err != nil {
			return fmt.Errorf("copy job %q of run %d to run %d: %w", key, from, to, err)
		}
	}
	return tx.Commit()
}
