package serve

import (
	"context"
	"encoding/json"
	"time"

	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/workflow"
)

// active is a run being executed.
type active struct {
	cancel context.CancelFunc
	// force ends even the steps that run after a cancellation (if:
	// always(), post steps): on force-cancel, cancel-timeout after a
	// cancel (timer), or when the server stops.
	force  context.CancelFunc
	forceC context.Context
	timer  *time.Timer
	slots  int    // job slots the run holds: its pkg/run Parallel
	repo   string // concurrency groups are per repository, as on GitHub
	group  string
	reason string // set when cancelled by a user or a newer run
}

func (s *Server) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// schedule starts queued runs while job slots are free, oldest first; a
// run waits while another run of its concurrency group is in progress.
// Capacity counts jobs, as GitHub's runners do: each run gets as many
// slots as it can use at once (at most Jobs), or as many as are free, and
// runs at most that many jobs at a time.
func (s *Server) schedule() {
	queued, err := s.store.QueuedRuns()
	if err != nil {
		s.logf("list queued runs: %v", err)
		return
	}
	keep := map[int64]int{}
	for _, r := range queued {
		w, ok := s.widths[r.ID]
		if !ok {
			w = s.runWidth(r.ID)
		}
		keep[r.ID] = w
	}
	s.widths = keep
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range queued {
		if s.closed || s.free <= 0 {
			return
		}
		if r.Group != "" && s.groupBusy(r.Repo, r.Group) {
			continue
		}
		ok, err := s.store.Start(r.ID)
		if err != nil {
			s.logf("run %d: start: %v", r.ID, err)
			continue
		}
		if !ok {
			continue
		}
		ctx, cancel := context.WithCancel(s.ctx)
		forceC, force := context.WithCancel(s.forceC)
		a := &active{cancel: cancel, force: force, forceC: forceC, slots: min(s.widths[r.ID], s.cfg.Jobs, s.free), repo: r.Repo, group: r.Group}
		s.free -= a.slots
		s.running[r.ID] = a
		s.wg.Add(1)
		go func(id int64) {
			defer s.wg.Done()
			s.execute(ctx, id, a)
		}(r.ID)
	}
}

// runWidth is how many jobs a queued run can run at once (see width);
// 1 when its workflow does not load (it fails at once then).
func (s *Server) runWidth(id int64) int {
	r, err := s.store.Run(id)
	if err != nil {
		return 1
	}
	w, errs := workflow.Load(r.WorkflowFile, []byte(r.Source), workflow.Options{Builtins: s.builtins})
	if len(errs) > 0 {
		return 1
	}
	skip := map[string]bool{}
	var reuse map[string]run.Reused
	if json.Unmarshal([]byte(r.Reuse), &reuse) == nil {
		for k := range reuse {
			skip[k] = true
		}
	}
	return width(w, skip, s.cfg.Jobs)
}

func (s *Server) groupBusy(repo, g string) bool {
	for _, a := range s.running {
		if a.group == g && a.repo == repo {
			return true
		}
	}
	return false
}

func (s *Server) execute(ctx context.Context, id int64, a *active) {
	defer func() {
		a.cancel()
		a.force()
		s.mu.Lock()
		if a.timer != nil {
			a.timer.Stop()
		}
		delete(s.running, id)
		s.free += a.slots
		s.mu.Unlock()
		s.hub.notify(id)
		s.kick()
	}()
	r, err := s.store.Run(id)
	if err != nil {
		s.finish(id, "failure", "load run: "+err.Error())
		return
	}
	sk, err := newSink(s.cfg.State, r.ID, r.RerunOf, s.store, &s.hub, s.logf)
	if err != nil {
		s.finish(r.ID, "failure", "open log: "+err.Error())
		return
	}
	defer sk.close()
	fail := func(msg string) {
		sk.line("Error: " + msg)
		sk.close()
		s.finish(r.ID, "failure", msg)
	}
	w, errs := workflow.Load(r.WorkflowFile, []byte(r.Source), workflow.Options{Builtins: s.builtins})
	if len(errs) > 0 {
		fail(errs.Error())
		return
	}
	plan, err := s.plan(r, w, r.ID)
	if err != nil {
		fail(err.Error())
		return
	}
	req := &ExecRequest{Plan: plan, Settings: s.settingsFor(r.Repo), ActionsSource: s.actionsSourceFor(r.Repo), Secrets: s.secrets, Credentials: s.credentials(), Observer: sk, Force: a.forceC, Parallel: a.slots, NoCache: r.NoCache}
	if err := json.Unmarshal([]byte(r.Reuse), &req.Reuse); err != nil {
		fail("reused jobs: " + err.Error())
		return
	}
	res, err := s.exec.Execute(ctx, req)
	if err == nil {
		sk.close() // the whole log is in before the run shows completed
		s.recordArtifacts(r.ID, res.Dir)
	}
	s.mu.Lock()
	reason := a.reason
	s.mu.Unlock()
	switch {
	case reason != "":
		s.finish(r.ID, "cancelled", reason)
	case s.ctx.Err() != nil:
		s.finish(r.ID, "failure", "runner stopped")
	case err != nil:
		fail(err.Error())
	default:
		s.finish(r.ID, res.Conclusion, "")
	}
}

func (s *Server) finish(id int64, conclusion, message string) {
	if err := s.store.Finish(id, conclusion, message); err != nil {
		s.logf("run %d: finish: %v", id, err)
	}
	s.hub.notify(id)
}

// stop cancels a running run, with s.mu held: the steps that run after a
// cancellation (if: always(), post steps) get the cancel timeout, as on
// GitHub, then are ended; force ends them at once. reason is kept when the
// run has one already.
func (s *Server) stop(a *active, reason string, force bool) {
	if a.reason == "" {
		a.reason = reason
	}
	a.cancel()
	switch {
	case force:
		a.force()
	case a.timer == nil:
		a.timer = time.AfterFunc(s.cfg.CancelTimeout, a.force)
	}
}
