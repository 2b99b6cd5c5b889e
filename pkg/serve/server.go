package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/birdflock/runner/pkg/dotenv"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/serve/store"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// Options are the server's parts. Every field has a working zero value.
type Options struct {
	Executor Executor   // default: a LocalExecutor under STATE/exec
	Builtins *steps.Set // built-in actions for loading workflows; default steps.Default()
	Log      io.Writer  // service messages; default os.Stderr
	// ReadTimeout bounds reading one request, headers and body, in
	// HTTPServer; default 15s.
	ReadTimeout time.Duration
}

// RestartMessage is the message of runs a restart found in progress.
const RestartMessage = "runner restarted"

// Server is a running runner serve: queue, scheduler, pollers and HTTP API.
type Server struct {
	cfg         Config
	store       *store.Store
	exec        Executor
	builtins    *steps.Set
	log         io.Writer
	repos       []*repo
	secrets     map[string]string
	hub         hub
	deliveries  keyLock         // webhook deliveries being handled
	unverified  semaphore       // webhook bodies being read before their signature is known
	hosts       map[string]bool // names answered in the Host header of unauthenticated requests
	readTimeout time.Duration
	// tokenFile is where the API token is kept: token-file, or
	// STATE/token when generated; "" when it was given inline.
	tokenFile string
	// tokenChosen: the token was given (token, token-file, $RUNNER_TOKEN),
	// not generated.
	tokenChosen bool

	rerunMu sync.Mutex // numbers re-run attempts

	mu      sync.Mutex
	running map[int64]*active
	free    int // job slots not given to a run; capacity counts jobs
	// widths caches how many jobs each queued run could run at once;
	// owned by the scheduler goroutine.
	widths map[int64]int
	wake   chan struct{}
	closed bool

	ctx    context.Context
	cancel context.CancelFunc
	force  context.CancelFunc
	forceC context.Context
	wg     sync.WaitGroup
}

// active is a run being executed.
type active struct {
	cancel context.CancelFunc
	slots  int    // job slots the run holds: its pkg/run Parallel
	repo   string // concurrency groups are per repository, as on GitHub
	group  string
	reason string // set when cancelled by a user or a newer run
}

// New opens the state and marks runs a previous process left in progress
// as failed. Start begins executing.
func New(cfg Config, opts Options) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.State, err = filepath.Abs(cfg.State); err != nil {
		return nil, err
	}
	// Logs, runs.db and the generated token are the service user's alone.
	if err := os.MkdirAll(cfg.State, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	s := &Server{cfg: cfg, exec: opts.Executor, builtins: opts.Builtins, log: opts.Log, running: map[int64]*active{}, free: cfg.Capacity, widths: map[int64]int{}, wake: make(chan struct{}, 1), secrets: map[string]string{},
		unverified: make(semaphore, maxUnverified), hosts: hostNames(cfg), readTimeout: opts.ReadTimeout}
	if s.readTimeout <= 0 {
		s.readTimeout = defaultReadTimeout
	}
	if s.builtins == nil {
		s.builtins = steps.Default()
	}
	if s.log == nil {
		s.log = os.Stderr
	}
	if fi, err := os.Stat(cfg.State); err == nil && fi.Mode().Perm()&0o077 != 0 {
		s.logf("warning: other users of this machine can enter the state directory %s (mode %v), which holds every run's log: chmod 700 it", cfg.State, fi.Mode().Perm())
	}
	if s.exec == nil {
		// Settings from the service's environment (BUILDKIT_HOST, …), the
		// config's mirrors over them.
		settings := steps.SettingsFromEnv(os.Getenv)
		if len(cfg.RegistryMirrors) > 0 {
			settings.RegistryMirror = strings.Join(cfg.RegistryMirrors, ",")
		}
		s.exec = &LocalExecutor{StateDir: filepath.Join(cfg.State, "exec"), Builtins: s.builtins, Jobs: cfg.Jobs, Settings: settings}
	}
	if cfg.SecretsFile != "" {
		if err := dotenv.Read(cfg.SecretsFile, s.secrets); err != nil {
			return nil, fmt.Errorf("secrets-file: %w", err)
		}
	}
	s.tokenFile = cfg.TokenFile
	s.tokenChosen = s.cfg.Token != ""
	if s.cfg.Token == "" {
		if s.cfg.Token, err = stateToken(cfg.State); err != nil {
			return nil, err
		}
		s.tokenFile = filepath.Join(cfg.State, "token")
	}
	for _, r := range cfg.Repositories {
		if r.Path != "" {
			if r.Path, err = filepath.Abs(r.Path); err != nil {
				return nil, err
			}
		}
		rp := newRepo(r, cfg.State)
		if r.Path != "" {
			if _, err := rp.open(false); err != nil {
				return nil, fmt.Errorf("repository %s: %w", r.Name, err)
			}
		}
		s.repos = append(s.repos, rp)
	}
	if s.store, err = store.Open(filepath.Join(cfg.State, "runs.db")); err != nil {
		return nil, err
	}
	run.SweepStale() // job cgroups a killed runner left, with their processes
	ids, err := s.store.Recover(RestartMessage)
	if err != nil {
		s.store.Close()
		return nil, fmt.Errorf("recover runs: %w", err)
	}
	for _, id := range ids {
		n := killOrphans(filepath.Join(cfg.State, "exec", "runs"), id)
		s.logf("run %d: was in progress at the last stop: marked failed (%d leftover processes killed)", id, n)
		if sk, err := newSink(cfg.State, id, s.store, &s.hub, s.logf); err == nil {
			sk.line("Error: " + RestartMessage)
			sk.close()
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.forceC, s.force = context.WithCancel(context.Background())
	return s, nil
}

// credentials are the service's own secrets, which every run masks: the
// API token, the webhook secret, credentials in repository URLs.
func (s *Server) credentials() []string {
	out := []string{s.cfg.Token, s.cfg.WebhookSecret}
	for _, r := range s.cfg.Repositories {
		out = append(out, run.URLCredentials(r.URL)...)
	}
	return out
}

// stateToken reads STATE/token, creating it with a random token.
func stateToken(state string) (string, error) {
	path := filepath.Join(state, "token")
	if data, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(data))) > 0 {
		return strings.TrimSpace(string(data)), nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write token: %w", err)
	}
	return tok, nil
}

// TokenFile returns the file the API token was read from or generated
// into (STATE/token); "" when the token was given inline.
func (s *Server) TokenFile() string { return s.tokenFile }

// Config returns the configuration in force, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

func (s *Server) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "runner serve: "+format+"\n", args...)
}

// Start starts the scheduler and the pollers; queued runs start at once.
func (s *Server) Start() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			s.schedule()
			select {
			case <-s.ctx.Done():
				return
			case <-s.wake:
			case <-tick.C:
			}
		}
	}()
	for _, r := range s.repos {
		if r.cfg.Poll > 0 {
			s.wg.Add(1)
			go func(r *repo) {
				defer s.wg.Done()
				s.pollLoop(r)
			}(r)
		}
	}
}

// Close cancels running runs (they end as failed, "runner stopped"),
// waits up to grace for them, then kills what is left.
func (s *Server) Close(grace time.Duration) error {
	s.mu.Lock()
	s.closed = true
	for _, a := range s.running {
		a.cancel()
	}
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		s.force()
		<-done
	}
	s.force()
	return s.store.Close()
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
		a := &active{cancel: cancel, slots: min(s.widths[r.ID], s.cfg.Jobs, s.free), repo: r.Repo, group: r.Group}
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
		s.mu.Lock()
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
	sk, err := newSink(s.cfg.State, r.ID, s.store, &s.hub, s.logf)
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
	req := &ExecRequest{Plan: plan, Secrets: s.secrets, Credentials: s.credentials(), Observer: sk, Force: s.forceC, Parallel: a.slots}
	if err := json.Unmarshal([]byte(r.Reuse), &req.Reuse); err != nil {
		fail("reused jobs: " + err.Error())
		return
	}
	res, err := s.exec.Execute(ctx, req)
	if err == nil {
		sk.close() // the whole log is in before the run shows completed
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

func (s *Server) repoByName(name string) *repo {
	for _, r := range s.repos {
		if strings.EqualFold(r.name, name) {
			return r
		}
	}
	// A single repository answers to any name, as a fork would.
	if len(s.repos) == 1 {
		if _, base, _ := strings.Cut(name, "/"); strings.EqualFold(base, filepath.Base(s.repos[0].name)) {
			return s.repos[0]
		}
	}
	return nil
}

// Errors of enqueue and cancel, mapped to HTTP statuses by the API.
var (
	ErrNotFound = store.ErrNotFound
	ErrConflict = errors.New("conflict")
	// ErrForbidden is GitHub's 403 for a run that cannot be re-run so.
	ErrForbidden = errors.New("forbidden")
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
					a.reason = fmt.Sprintf("cancelled by run %d in concurrency group %q", r.ID, r.Group)
					a.cancel()
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
	t := run.Trigger{Event: r.Event, ID: int(id), Repo: run.Repo{SHA: r.SHA, Ref: r.Ref, Actor: r.Actor, Repository: r.Repo}}
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
	return run.NewPlan(w, t)
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

// Cancel cancels a queued or running run.
func (s *Server) Cancel(id int64) error {
	r, err := s.store.Run(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.running[id]; ok {
		if a.reason == "" {
			a.reason = "cancelled"
		}
		a.cancel()
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

// Rerun queues a new attempt of a completed run; with failedOnly the jobs
// that succeeded keep their results and outputs.
func (s *Server) Rerun(id int64, failedOnly bool) (*store.Run, error) {
	old, err := s.store.Run(id)
	if err != nil {
		return nil, err
	}
	if old.Status != store.Completed {
		return nil, fmt.Errorf("%w: run %d is not completed", ErrConflict, id)
	}
	if failedOnly && old.Conclusion == "success" {
		return nil, fmt.Errorf("%w: This workflow run cannot be retried: run %d has no failed jobs", ErrForbidden, id)
	}
	w, errs := workflow.Load(old.WorkflowFile, []byte(old.Source), workflow.Options{Builtins: s.builtins})
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConflict, errs.Error())
	}
	// Attempts are numbered per workflow run, as on GitHub: re-running
	// attempt 1 twice gives attempts 2 and 3. Numbering and queueing
	// happen under one lock so that two re-runs never share a number.
	s.rerunMu.Lock()
	defer s.rerunMu.Unlock()
	last, err := s.store.LastAttempt(old.ID)
	if err != nil {
		return nil, err
	}
	nr := *old
	nr.ID, nr.Conclusion, nr.Message, nr.Started = 0, "", "", time.Time{}
	nr.Attempt, nr.RerunOf, nr.Reuse = last+1, old.ID, ""
	if failedOnly {
		reuse, err := s.reusable(old.ID)
		if err != nil {
			return nil, err
		}
		data, _ := json.Marshal(reuse)
		nr.Reuse = string(data)
	}
	if err := s.enqueue(&nr, w); err != nil {
		return nil, err
	}
	return &nr, nil
}

// reusable reads the jobs of a finished run that succeeded (every leg),
// from the masked summary the engine wrote; with no summary every job
// runs again.
func (s *Server) reusable(id int64) (map[string]run.Reused, error) {
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
	failed := map[string]bool{}
	for _, j := range res.Jobs {
		if j.Result != "success" {
			failed[j.JobID] = true
		}
	}
	for _, j := range res.Jobs {
		if failed[j.JobID] {
			continue
		}
		r := out[j.JobID]
		r.Result = "success"
		if r.Outputs == nil {
			r.Outputs = map[string]string{}
		}
		for k, v := range j.Outputs {
			r.Outputs[k] = v
		}
		out[j.JobID] = r
	}
	return out, nil
}
