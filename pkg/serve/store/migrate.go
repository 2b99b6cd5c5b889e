package store

import (
	"database/sql"
	"fmt"
)

// migrations bring a database made by an earlier version up to date, in
// order: migration i makes schema version i+1 (SQLite's user_version).
// The base schema is the first version's; a new database runs them all.
var migrations = []string{
	// 2: every attempt of a workflow run shares its run_id (the first
	// attempt's id; before, each re-run looked like a run of its own),
	// jobs get ids unique over the service, workflows get stable ids per
	// path, and the run list's filters get indexes.
	`ALTER TABLE runs ADD COLUMN run_id INTEGER NOT NULL DEFAULT 0;
	WITH RECURSIVE chain(id, root) AS (
		SELECT id, id FROM runs WHERE rerun_of = 0
		UNION ALL SELECT r.id, c.root FROM runs r JOIN chain c ON r.rerun_of = c.id)
	UPDATE runs SET run_id = coalesce((SELECT root FROM chain WHERE chain.id = runs.id), id);
	ALTER TABLE jobs ADD COLUMN id INTEGER NOT NULL DEFAULT 0;
	UPDATE jobs SET id = rowid;
	CREATE UNIQUE INDEX jobs_id ON jobs(id);
	CREATE TABLE workflows (id INTEGER PRIMARY KEY AUTOINCREMENT, repo TEXT NOT NULL, path TEXT NOT NULL,
		created INTEGER NOT NULL, UNIQUE (repo, path));
	INSERT INTO workflows (repo, path, created) SELECT repo, workflow_file, min(created) FROM runs GROUP BY repo, workflow_file ORDER BY min(id);
	CREATE INDEX runs_run_attempt ON runs(run_id, attempt);
	CREATE INDEX runs_repo_workflow ON runs(repo, workflow_file);
	CREATE INDEX runs_ref ON runs(ref);
	CREATE INDEX runs_event ON runs(event);
	CREATE INDEX runs_actor ON runs(actor);
	CREATE INDEX runs_sha ON runs(sha);
	CREATE INDEX runs_created ON runs(created);
	CREATE INDEX runs_conclusion ON runs(conclusion);`,
	// 3: workflows can be disabled (PUT …/workflows/{id}/disable);
	// artifacts get ids unique over the service.
	`ALTER TABLE workflows ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
	CREATE TABLE artifacts (id INTEGER PRIMARY KEY AUTOINCREMENT, run INTEGER NOT NULL, name TEXT NOT NULL,
		dir TEXT NOT NULL, size INTEGER NOT NULL, created INTEGER NOT NULL, UNIQUE (run, name));
	CREATE INDEX artifacts_name ON artifacts(name);`,
	// 4: a re-run without the job cache (docs/cache.md).
	`ALTER TABLE runs ADD COLUMN no_cache INTEGER NOT NULL DEFAULT 0;`,
	// 5: a job restored from the job cache says from which run and key.
	`ALTER TABLE jobs ADD COLUMN cached_run INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN cached_key TEXT NOT NULL DEFAULT '';`,
	// 6: the runner a job ran on when not the service's process (a pod).
	`ALTER TABLE jobs ADD COLUMN runner TEXT NOT NULL DEFAULT '';`,
	// 7: lists of runs with 10,000 in history: a workflow run's latest
	// attempt is marked (latest), so that a list and its count need no
	// subquery per row, and the lists of every repository, a repository,
	// a workflow and a repository's runs by each filter read their page in
	// run order, and count, from an index.
	`ALTER TABLE runs ADD COLUMN latest INTEGER NOT NULL DEFAULT 1;
	UPDATE runs SET latest = 0 WHERE EXISTS (SELECT 1 FROM runs n WHERE n.run_id = runs.run_id AND n.attempt > runs.attempt);
	CREATE INDEX runs_latest ON runs(latest, run_id);
	CREATE INDEX runs_latest_repo ON runs(latest, repo, run_id);
	CREATE INDEX runs_latest_workflow ON runs(latest, repo, workflow_file, run_id);
	CREATE INDEX runs_latest_status ON runs(latest, repo, status, run_id);
	CREATE INDEX runs_latest_conclusion ON runs(latest, repo, conclusion, run_id);
	CREATE INDEX runs_latest_ref ON runs(latest, repo, ref, run_id);
	CREATE INDEX runs_latest_event ON runs(latest, repo, event, run_id);
	CREATE INDEX runs_latest_actor ON runs(latest, repo, actor, run_id);`,
	// 8: annotations kept with their properties, jobs' matrix leg index
	// (annotations.go).
	migrateAnnotations,
	// 9: job ids are never given again (as GitHub's): the last one given
	// is kept, so deleting the run with the newest jobs does not hand
	// their ids to the next run's jobs; the actor filter ignores case, as
	// GitHub's logins do.
	`CREATE TABLE job_ids (last INTEGER NOT NULL);
	INSERT INTO job_ids SELECT coalesce(max(id), 0) FROM jobs;
	CREATE TRIGGER jobs_last_id AFTER INSERT ON jobs BEGIN UPDATE job_ids SET last = max(last, NEW.id); END;
	DROP INDEX runs_latest_actor;
	CREATE INDEX runs_latest_actor_nocase ON runs(latest, repo, actor COLLATE NOCASE, run_id);`,
}

func migrate(db *sql.DB) error {
	var version int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if version == 0 {
		version = 1 // the base schema
	}
	for ; version-1 < len(migrations); version++ {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(migrations[version-1]); err != nil {
			tx.Rollback()
			return fmt.Errorf("to version %d: %w", version+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, version+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("to version %d: %w", version+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("to version %d: %w", version+1, err)
		}
	}
	return nil
}
