package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/jobcache"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
)

// Executor runs one workflow run. The server calls Execute once per run,
// each call from its own goroutine; the runs' ExecRequest.Parallel add up
// to at most Config.Capacity (jobs at once over all runs).
// Execute hands the run's events to ExecRequest.Observer while the run goes
// on (pkg/run's typed events), and returns the result when the run has
// ended and cleaned up. Cancelling ctx cancels the run; cancelling
// ExecRequest.Force kills even if: always() steps. A Kubernetes executor
// (jobs as pods) implements the same interface.
type Executor interface {
	Execute(ctx context.Context, req *ExecRequest) (*run.Result, error)
}

// ExecRequest is what an executor needs for one run.
type ExecRequest struct {
	// Plan is the run resolved (pkg/run's NewPlan): workflow, event and
	// payload, inputs, repository and the run's id.
	Plan    *run.Plan
	Secrets map[string]string // never stored; masked in every log line
	// Settings are runner's settings for the run's built-ins (registry
	// mirrors, BUILDKIT_HOST): the service's, or its repository's.
	Settings steps.Settings
	// ActionsSource is where the run's owner/repo@ref actions come from:
	// the service's actions-source, or its repository's. Zero: GitHub.
	ActionsSource actions.Source
	// Credentials are the service's own (API token, webhook secret,
	// tokens in repository URLs): never given to steps, masked in every
	// log line.
	Credentials []string
	Reuse       map[string]run.Reused // jobs kept from an earlier attempt
	Observer    run.Observer          // receives the run's events as they happen
	Force       context.Context
	// Parallel is how many jobs of this run may run at once: its share
	// of the server's capacity (at least 1). 0: the executor's default.
	Parallel int
	// NoCache runs the jobs that opt in to the job cache without looking
	// it up (a re-run without cache); their results are still stored.
	NoCache bool
}

// LocalExecutor runs workflows on this machine with pkg/run, the engine of
// runner exec.
type LocalExecutor struct {
	StateDir string     // run directories go to STATE/runs/<id>
	Builtins *steps.Set // default steps.Default()
	Jobs     int        // jobs at once inside one run; default pkg/run's
	// Env is what every step's environment starts from; default
	// run.MinimalEnv(os.Environ()): a service's environment is its
	// configuration, not its steps'.
	Env []string
	// Cache is the job cache (docs/cache.md) the runs' jobs that opt in
	// with RUNNER_CACHE are looked up in and stored to. Nil: none is.
	Cache *jobcache.Store
	// Remote, when set, runs each job leg elsewhere (a Kubernetes pod:
	// docs/kubernetes.md); the run's graph, queue and record stay here.
	Remote run.LegTransport
	// RemoteSettings, when set, turns a run's settings into its remote
	// legs' (addresses pods reach: kube.Config.PodSettings).
	RemoteSettings func(steps.Settings) steps.Settings
}

// Execute implements Executor.
func (e *LocalExecutor) Execute(ctx context.Context, req *ExecRequest) (*run.Result, error) {
	b := e.Builtins
	if b == nil {
		b = steps.Default()
	}
	env := e.Env
	if env == nil {
		env = run.MinimalEnv(os.Environ())
	}
	par := e.Jobs
	if req.Parallel > 0 {
		par = req.Parallel
	}
	state, err := filepath.Abs(e.StateDir)
	if err != nil {
		return nil, err
	}
	settings := req.Settings
	if e.RemoteSettings != nil {
		settings = e.RemoteSettings(settings)
	}
	return run.Run(ctx, req.Plan, run.Options{
		Actions:     &actions.Resolver{StateDir: state, Source: req.ActionsSource},
		Builtins:    b,
		Secrets:     req.Secrets,
		Parallel:    par,
		StateDir:    filepath.Clean(e.StateDir),
		Observer:    req.Observer,
		Force:       req.Force,
		Reuse:       req.Reuse,
		Env:         env,
		Settings:    settings,
		Credentials: req.Credentials,
		Cache:       e.Cache,
		Remote:      e.Remote,
		NoCache:     req.NoCache,
	})
}

// openCache opens the service's job cache, STATE/exec/cache, with the
// config's cap and registry (reached with the service's mirrors and docker
// config credentials).
func openCache(cfg Config, mirrors string) (*jobcache.Store, error) {
	var max int64
	if cfg.Cache.MaxSize != "" {
		var err error
		if max, err = jobcache.ParseSize(cfg.Cache.MaxSize); err != nil {
			return nil, fmt.Errorf("cache: max-size: %w", err)
		}
	}
	s, err := jobcache.Open(filepath.Join(cfg.State, "exec", "cache"), max)
	if err != nil {
		return nil, err
	}
	if cfg.Cache.Registry != "" {
		m, err := registry.ParseMirrors(mirrors)
		if err != nil {
			return nil, fmt.Errorf("registry-mirrors: %w", err)
		}
		if s.Remote, err = jobcache.NewRemote(cfg.Cache.Registry, registry.New(registry.Options{Mirrors: m})); err != nil {
			return nil, err
		}
	}
	return s, nil
}
