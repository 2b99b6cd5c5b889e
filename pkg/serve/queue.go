package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/serve/store"
	"github.com/birdflock/runner/pkg/workflow"
)

// enqueue records a new run and applies its concurrency group: an older
// queued run of the group is cancelled, and with cancel-in-progress so is
// the one in progress.
func (s *Server) enqueue(r *store.Run, w *workflow.Workflow) error {
	var group func(id int64) (string, bool, error)
	if w.Concurrency != nil && w.Concurrency.Group.Set {
		group = func(id int64) (string, bool, error) { return s.concurrencyGroup(r, id, w) }
	}
	if err := s.store.CreateRunGrouped(r, group); err != nil {
		return err
	}
	if r.Group != "" {
		queued, err := s.store.QueuedRuns()
		if err != nil {
			return err
		}
		// Under s.mu the scheduler cannot start them meanwhile.
		s.mu.Lock()
		for _, q := range queued {
			if q.Group == r.Group && q.Repo == r.Repo && q.ID != r.ID {
				if _, err := s.store.CancelQueued(q.ID, fmt.Sprintf("superseded by run %d in concurrency group %q", r.ID, r.Group)); err != nil {
					s.logf("run %d: cancel: %v", q.ID, err)
				}
				s.hub.notify(q.ID)
			}
		}
		if r.CancelGroup {
			for id, a := range s.running {
				if a.group == r.Group && a.repo == r.Repo && a.reason == "" {
					s.stop(a, fmt.Sprintf("cancelled by run %d in concurrency group %q", r.ID, r.Group), false)
					s.logf("run %d: %s", id, a.reason)
				}
			}
		}
		s.mu.Unlock()
	}
	s.kick()
	return nil
}

// plan resolves stored run r of workflow w, whose id is id (pkg/run's
// NewPlan): what the engine runs, and what the concurrency group is
// evaluated with, so both see the same contexts.
func (s *Server) plan(r *store.Run, w *workflow.Workflow, id int64) (*run.Plan, error) {
	// The engine's record is the attempt (id); the steps see the workflow
	// run's id and attempt, as on GitHub.
	runID := r.RunID
	if runID == 0 {
		runID = id
	}
	t := run.Trigger{Event: r.Event, ID: int(id), RunID: int(runID), Attempt: r.Attempt, Repo: run.Repo{SHA: r.SHA, Ref: r.Ref, Actor: r.Actor, Repository: r.Repo}}
	if err := json.Unmarshal([]byte(r.Inputs), &t.Inputs); err != nil {
		return nil, fmt.Errorf("inputs: %w", err)
	}
	if err := json.Unmarshal([]byte(r.Payload), &t.Payload); err != nil {
		return nil, fmt.Errorf("event payload: %w", err)
	}
	if len(t.Inputs) == 0 {
		t.Inputs = nil
	}
	if rp := s.repoByName(r.Repo); rp != nil {
		t.Repo.Path = rp.dir
	}
	p, err := run.NewPlan(w, t)
	if err != nil {
		return nil, err
	}
	p.Source = []byte(r.Source) // for legs that run elsewhere
	return p, nil
}

// concurrencyGroup is the concurrency group and cancel-in-progress of run
// r, whose id is id, evaluated from its plan.
func (s *Server) concurrencyGroup(r *store.Run, id int64, w *workflow.Workflow) (string, bool, error) {
	p, err := s.plan(r, w, id)
	if err != nil {
		return "", false, err
	}
	return p.Concurrency()
}

// Cancel cancels a queued or running run. The steps of a running one
// that run after a cancellation (if: always(), post steps) get the
// config's cancel-timeout, then are ended.
func (s *Server) Cancel(id int64) error { return s.cancelRun(id, false) }

// ForceCancel cancels a queued or running run and ends at once even the
// steps that run after a cancellation (GitHub's force-cancel).
func (s *Server) ForceCancel(id int64) error { return s.cancelRun(id, true) }

func (s *Server) cancelRun(id int64, force bool) error {
	r, err := s.store.Run(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.running[id]; ok {
		s.stop(a, "cancelled", force)
		return nil
	}
	if r.Status == store.Completed {
		return fmt.Errorf("%w: run %d is already completed", ErrConflict, id)
	}
	// Not running, and under s.mu the scheduler cannot start it meanwhile.
	ok, err := s.store.CancelQueued(id, "cancelled")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: run %d is already completed", ErrConflict, id)
	}
	s.hub.notify(id)
	return nil
}

// RerunOptions say what a re-run runs again, and how.
type RerunOptions struct {
	// FailedOnly keeps the results and outputs of the jobs that succeeded.
	FailedOnly bool
	// NoCache runs the jobs that opt in to the job cache without looking
	// it up (docs/cache.md); a successful result is still stored.
	NoCache bool
}

// Rerun queues a new attempt of the run whose latest attempt is id; with
// failedOnly the jobs that succeeded keep their results and outputs.
func (s *Server) Rerun(id int64, failedOnly bool) (*store.Run, error) {
	return s.RerunWith(id, RerunOptions{FailedOnly: failedOnly})
}

// RerunWith is Rerun with options.
func (s *Server) RerunWith(id int64, o RerunOptions) (*store.Run, error) {
	failedOnly := o.FailedOnly
	return s.rerun(id, o.NoCache, func(old *store.Run) (map[string]run.Reused, error) {
		if !failedOnly {
			return nil, nil
		}
		if old.Conclusion == "success" {
			return nil, fmt.Errorf("%w: This workflow run cannot be retried: run %d has no failed jobs", ErrForbidden, old.RunID)
		}
		return s.reusable(old.ID)
	})
}

// RerunJob queues a new attempt of the run whose latest attempt is id
// that runs job key (a job, or one leg of a matrix: then the whole job)
// again, and the jobs that need it, directly or not; the others keep
// their results and outputs, as GitHub's re-run of one job.
func (s *Server) RerunJob(id int64, key string) (*store.Run, error) {
	return s.RerunJobWith(id, key, RerunOptions{})
}

// RerunJobWith is RerunJob with options (FailedOnly does not apply).
func (s *Server) RerunJobWith(id int64, key string, o RerunOptions) (*store.Run, error) {
	return s.rerun(id, o.NoCache, func(old *store.Run) (map[string]run.Reused, error) {
		w, errs := workflow.Load(old.WorkflowFile, []byte(old.Source), workflow.Options{Builtins: s.builtins})
		if len(errs) > 0 {
			return nil, fmt.Errorf("%w: %s", ErrConflict, errs.Error())
		}
		res, err := s.results(old.ID)
		if err != nil {
			return nil, err
		}
		target, _, _ := strings.Cut(key, " (")
		again := map[string]bool{target: true}
		for changed := true; changed; {
			changed = false
			for _, j := range w.Jobs {
				for _, n := range j.Needs {
					if again[n.Raw] && !again[j.ID] {
						again[j.ID], changed = true, true
					}
				}
			}
		}
		out := map[string]run.Reused{}
		for id, r := range res {
			if !again[id] {
				out[id] = r
			}
		}
		return out, nil
	})
}

// rerun queues the next attempt of the run whose latest attempt is id,
// with the jobs reuse gives kept from it; noCache: without the job cache.
func (s *Server) rerun(id int64, noCache bool, reuse func(old *store.Run) (map[string]run.Reused, error)) (*store.Run, error) {
	// Attempts are numbered per workflow run, as on GitHub, and keep its
	// id. Numbering and queueing happen under one lock so that two
	// re-runs never share a number, and only the latest attempt is
	// re-run.
	s.rerunMu.Lock()
	defer s.rerunMu.Unlock()
	old, err := s.store.Run(id)
	if err != nil {
		return nil, err
	}
	last, err := s.store.LastAttempt(old.ID)
	if err != nil {
		return nil, err
	}
	if old.Attempt != last {
		return nil, fmt.Errorf("%w: run %d has a later attempt than %d", ErrConflict, old.RunID, old.Attempt)
	}
	if old.Status != store.Completed {
		return nil, fmt.Errorf("%w: run %d is not completed", ErrConflict, old.RunID)
	}
	w, errs := workflow.Load(old.WorkflowFile, []byte(old.Source), workflow.Options{Builtins: s.builtins})
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConflict, errs.Error())
	}
	kept, err := reuse(old)
	if err != nil {
		return nil, err
	}
	nr := *old
	nr.ID, nr.Conclusion, nr.Message, nr.Started = 0, "", "", time.Time{}
	nr.Attempt, nr.RerunOf, nr.Reuse, nr.NoCache = last+1, old.ID, "", noCache
	if kept != nil {
		data, _ := json.Marshal(kept)
		nr.Reuse = string(data)
	}
	if err := s.enqueue(&nr, w); err != nil {
		return nil, err
	}
	return &nr, nil
}

// results reads the result and outputs of each job of a finished run
// attempt (a matrix job's: failure if a leg failed, else its first leg's
// result not success, else success) from the masked summary the engine
// wrote; none without a summary.
func (s *Server) results(id int64) (map[string]run.Reused, error) {
	out := map[string]run.Reused{}
	data, err := os.ReadFile(filepath.Join(s.cfg.State, "exec", "runs", fmt.Sprint(id), "summary.json"))
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var res run.Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("summary of run %d: %w", id, err)
	}
	for _, j := range res.Jobs {
		r, seen := out[j.JobID]
		switch {
		case !seen || r.Result == "success":
			r.Result = j.Result
		case j.Result == "failure":
			r.Result = "failure"
		}
		if r.Outputs == nil {
			r.Outputs = map[string]string{}
		}
		for k, v := range j.Outputs {
			r.Outputs[k] = v
		}
		r.Legs = append(r.Legs, run.ReusedLeg{Key: j.Key, Name: j.Name, Result: j.Result})
		out[j.JobID] = r
	}
	return out, nil
}

// reusable is the jobs of a finished run attempt that succeeded (every
// leg): what a re-run of its failed jobs keeps.
func (s *Server) reusable(id int64) (map[string]run.Reused, error) {
	res, err := s.results(id)
	if err != nil {
		return nil, err
	}
	for id, r := range res {
		if r.Result != "success" {
			delete(res, id)
		}
	}
	return res, nil
}

func refName(ref string) string {
	for _, p := range []string{"refs/heads/", "refs/tags/"} {
		if strings.HasPrefix(ref, p) {
			return ref[len(p):]
		}
	}
	return ref
}

func jsonMap(s string) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal([]byte(s), &m)
	return m
}
