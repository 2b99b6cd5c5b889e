package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/dotenv"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// execFlags are runner exec's flags.
type execFlags struct {
	// cancelTimeout (--cancel-timeout) is how long the steps that run
	// after a Ctrl-C (if: always(), posts) get before they are forced.
	cancelTimeout time.Duration
	node          string // --node: the node that runs JavaScript actions
	// realActions (--real-action) are built-in aliases that run the real
	// action instead.
	realActions []string

	event, eventFile, repo, state, secretFile, envFile string
	inputs, secrets, vars, mirrors, matrix             []string
	jobs                                               int
	jsonOut, keep                                      bool
	actionsSource                                      string
	cache                                              cacheFlags
	// executor (--executor) is where the legs run: local (this
	// process), or process (a child `runner job --stdio` each).
	executor string
	kube     kubeFlags // --executor kubernetes
}

func newExecCmd() *cobra.Command {
	var fl execFlags
	cmd := &cobra.Command{
		Use:   "exec WORKFLOW",
		Short: "Run a workflow on this machine",
		Long: `Run a workflow on this machine. WORKFLOW is a file, or a name looked up as
workflows/NAME.yaml, then .github/workflows/NAME.yaml in the repository.

Exit codes: 0 success, 1 a job failed, 2 invalid workflow or usage, 130 interrupted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repoDir, err := findRepo(fl.repo)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			path, err := findWorkflow(args[0], localDir(repoDir))
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			builtins, err := steps.Default().Without(fl.realActions...)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--real-action: %w", err)}
			}
			w, err := loadWorkflow(path, builtins, repoLabels(localDir(repoDir)))
			if err != nil {
				return err
			}
			plan, opts, err := fl.plan(w, repoDir)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := callSecretsGiven(plan, opts.Secrets); err != nil {
				return &exitError{code: 2, err: err}
			}
			opts.Builtins = builtins
			switch fl.executor {
			case "", "local":
			case "process":
				if plan.Source, err = os.ReadFile(path); err != nil {
					return &exitError{code: 2, err: err}
				}
				opts.Remote = &run.ProcessTransport{}
			case "kubernetes":
				if plan.Source, err = os.ReadFile(path); err != nil {
					return &exitError{code: 2, err: err}
				}
				if opts.Remote, err = fl.kube.transport(&opts.Settings); err != nil {
					return &exitError{code: 2, err: err}
				}
			default:
				return &exitError{code: 2, err: fmt.Errorf("--executor %q: want local, process or kubernetes", fl.executor)}
			}
			if opts.Calls, err = loadCalls(context.Background(), w, repoDir, opts, builtins); err != nil {
				return err
			}
			ctx, interrupted, stop := interruptible(&opts, fl.cancelTimeout)
			defer stop()
			// The Kubernetes executor's idle pods (a template's idle: N)
			// start now, once Ctrl-C is the run's, and those the run did
			// not claim are deleted before it stops being.
			if c, ok := opts.Remote.(io.Closer); ok {
				defer c.Close()
			}
			if s, ok := opts.Remote.(interface{ StartIdle() }); ok {
				s.StartIdle()
			}
			if err := fl.cache.options(&opts, fl.state); err != nil {
				return err
			}
			res, err := run.Run(ctx, plan, opts)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			if !fl.jsonOut {
				printSummary(os.Stdout, res, opts.Color)
			}
			switch {
			case interrupted() || res.Conclusion == "cancelled":
				return &exitError{code: 130, err: errors.New("")}
			case res.Conclusion != "success":
				return &exitError{code: 1, err: errors.New("")}
			}
			return nil
		},
	}
	fl.addTriggerFlags(cmd)
	fl.cache.add(cmd)
	fl.kube.add(cmd)
	f := cmd.Flags()
	f.StringArrayVar(&fl.secrets, "secret", nil, "secret K=V, or K to take it from the environment (repeatable)")
	f.StringVar(&fl.secretFile, "secret-file", "", "dotenv file of secrets (K=V lines)")
	f.StringVar(&fl.repo, "repo", "", "repository the run is for (default: the git repository of the current directory)")
	f.IntVar(&fl.jobs, "jobs", runtime.NumCPU(), "jobs to run at once")
	f.StringArrayVar(&fl.realActions, "real-action", nil, "run the real action instead of runner's built-in for this alias, e.g. actions/checkout (repeatable; fetched from --actions-source)")
	f.StringVar(&fl.node, "node", "", "node binary that runs JavaScript actions (default: node on the PATH)")
	f.BoolVar(&fl.jsonOut, "json", false, "print zerolog JSON events")
	f.StringVar(&fl.executor, "executor", "local", "where job legs run: local (this process), kubernetes (each in a pod: docs/kubernetes.md) or process (each in a child runner job --stdio: the protocol of a pod's leg)")
	f.StringVar(&fl.state, "state", ".runner", "state directory: run records, caches")
	f.StringArrayVar(&fl.mirrors, "registry-mirror", nil, "registry mirror REGISTRY=URL, e.g. docker.io=http://127.0.0.1:5000 (repeatable; also $RUNNER_REGISTRY_MIRROR)")
	f.BoolVar(&fl.keep, "keep-workspaces", false, "keep each job's workspace after the run")
	f.DurationVar(&fl.cancelTimeout, "cancel-timeout", 5*time.Minute, "after Ctrl-C, how long the steps that still run (if: always(), post steps) get before they are ended, as GitHub's cancel timeout (a second Ctrl-C ends them at once)")
	f.StringVar(&fl.actionsSource, "actions-source", "", "where owner/repo@ref actions come from: a URL template such as https://git.example.com/{owner}/{repo}, or a folder holding OWNER/REPO (default GitHub; also $"+actions.EnvSource+")")
	return cmd
}

// addTriggerFlags adds the flags that say what starts the run (exec and
// plan share them).
func (fl *execFlags) addTriggerFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&fl.event, "event", "", "event name (default push, or workflow_dispatch when inputs are given)")
	f.StringVar(&fl.eventFile, "event-file", "", "JSON payload for github.event (a workflow_dispatch payload's inputs are the run's inputs)")
	f.StringArrayVar(&fl.inputs, "input", nil, "workflow_dispatch (or workflow_call) input K=V (repeatable)")
	f.StringArrayVar(&fl.vars, "var", nil, "configuration variable K=V for the vars context (repeatable)")
	f.StringVar(&fl.envFile, "env-file", "", "dotenv file of environment variables for every job, under the workflow's env")
	f.StringArrayVar(&fl.matrix, "matrix", nil, "run only the matrix legs with KEY:VALUE (repeatable; legs without KEY run)")
}

// plan resolves the run the flags ask for (every error is a usage error):
// the trigger (event and payload, inputs, vars, the repository) as a
// run.Plan, and the options: secrets, and runner's settings for the
// built-ins, which reach them explicitly, never a step's environment.
func (fl *execFlags) plan(w *workflow.Workflow, repoDir string) (*run.Plan, run.Options, error) {
	settings := steps.SettingsFromEnv(os.Getenv)
	if len(fl.mirrors) > 0 {
		if _, err := registry.ParseMirrors(fl.mirrors...); err != nil {
			return nil, run.Options{}, err
		}
		settings.RegistryMirror = strings.Join(fl.mirrors, ",")
	}
	opts := run.Options{
		Parallel: fl.jobs, StateDir: fl.state,
		Out: os.Stdout, JSON: fl.jsonOut, Color: isTTY(os.Stdout), KeepWorkspaces: fl.keep,
		Settings: settings,
	}
	if err := fl.actions(&opts); err != nil {
		return nil, opts, err
	}
	t := run.Trigger{Event: fl.event}
	var err error
	if opts.Node, err = nodeFlag(fl.node); err != nil {
		return nil, opts, err
	}
	if t.Inputs, err = keyValues(fl.inputs, false); err != nil {
		return nil, opts, err
	}
	if opts.Secrets, err = keyValues(fl.secrets, true); err != nil {
		return nil, opts, err
	}
	if fl.secretFile != "" {
		if err := dotenv.Read(fl.secretFile, opts.Secrets); err != nil {
			return nil, opts, err
		}
	}
	if t.Vars, err = keyValues(fl.vars, false); err != nil {
		return nil, opts, err
	}
	if fl.envFile != "" {
		t.Env = map[string]string{}
		if err := dotenv.Read(fl.envFile, t.Env); err != nil {
			return nil, opts, err
		}
	}
	for _, m := range fl.matrix {
		k, v, ok := strings.Cut(m, ":")
		if !ok || k == "" {
			return nil, opts, fmt.Errorf("--matrix %q: want KEY:VALUE", m)
		}
		if t.Matrix == nil {
			t.Matrix = map[string][]string{}
		}
		t.Matrix[k] = append(t.Matrix[k], v)
	}
	// Without a payload, the plan has a minimal one for the event.
	if fl.eventFile != "" {
		data, err := os.ReadFile(fl.eventFile)
		if err != nil {
			return nil, opts, err
		}
		t.Payload = map[string]any{}
		if err := json.Unmarshal(data, &t.Payload); err != nil {
			return nil, opts, fmt.Errorf("%s: %w", fl.eventFile, err)
		}
	}
	if t.Event == "" {
		// A dispatch when inputs are given (as flags or in the payload) or
		// the workflow has no push trigger but a dispatch one.
		_, payloadInputs := t.Payload["inputs"].(map[string]any)
		t.Event = "push"
		if len(t.Inputs) > 0 || (payloadInputs && w.On.Dispatch != nil) || (!w.On.Has("push") && w.On.Dispatch != nil) {
			t.Event = "workflow_dispatch"
		}
		// A reusable workflow run by itself: its inputs are workflow_call's.
		onlyCall := len(w.On.Events) == 1 && w.On.Call != nil
		if w.On.Call != nil && w.On.Dispatch == nil && (onlyCall || len(t.Inputs) > 0) {
			t.Event = "workflow_call"
		}
	}
	if t.Repo, err = repoInfo(repoDir); err != nil {
		return nil, opts, err
	}
	plan, err := run.NewPlan(w, t)
	return plan, opts, err
}

// actions sets the resolver of remote actions: --actions-source, else
// $RUNNER_ACTIONS_SOURCE, else GitHub; cached under the state dir.
func (fl *execFlags) actions(opts *run.Options) error {
	src := fl.actionsSource
	if src == "" {
		src = os.Getenv(actions.EnvSource)
	}
	source, err := actions.ParseSource(src)
	if err != nil {
		return err
	}
	state, err := filepath.Abs(fl.state)
	if err != nil {
		return err
	}
	opts.Actions = &actions.Resolver{StateDir: state, Source: source}
	return nil
}

// interruptible returns the run's context, cancelled by the first Ctrl-C
// or SIGTERM; a second one, or cancelTimeout after the first (GitHub's
// cancel timeout: a cancelled job's always() and post steps get that long),
// cancels opts.Force, which kills even the steps that run after a
// cancellation. interrupted reports whether a signal came.
func interruptible(opts *run.Options, cancelTimeout time.Duration) (ctx context.Context, interrupted func() bool, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	force, forceCancel := context.WithCancel(context.Background())
	opts.Force = force
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var got atomic.Bool
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		got.Store(true)
		fmt.Fprintf(os.Stderr, "runner: interrupted, stopping steps (again, or in %s, to force)\n", cancelTimeout)
		cancel()
		timer := time.AfterFunc(cancelTimeout, forceCancel)
		defer timer.Stop()
		if _, ok := <-sigs; ok {
			forceCancel()
		}
	}()
	return ctx, got.Load, func() {
		signal.Stop(sigs)
		close(sigs)
		cancel()
		forceCancel()
	}
}

// keyValues parses K=V flags; with fromEnv, a bare K takes $K.
func keyValues(list []string, fromEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			if !fromEnv {
				return nil, fmt.Errorf("%q: want KEY=VALUE", kv)
			}
			v, ok = os.LookupEnv(k)
			if !ok {
				return nil, fmt.Errorf("secret %s: not set in the environment", k)
			}
		}
		if k == "" {
			return nil, fmt.Errorf("%q: empty key", kv)
		}
		out[k] = v
	}
	return out, nil
}

func isTTY(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// localDir is where to look for workflow files: the repo itself when it is
// a local directory, else the current directory.
func localDir(repo string) string {
	if st, err := os.Stat(repo); err == nil && st.IsDir() {
		return repo
	}
	wd, _ := os.Getwd()
	return wd
}

// findRepo returns the repository path: the flag, or the git work tree
// that contains the current directory.
func findRepo(flag string) (string, error) {
	if flag != "" {
		if strings.Contains(flag, "://") || strings.HasPrefix(flag, "git@") {
			return flag, nil
		}
		return filepath.Abs(flag)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return dir, nil // not in a repository: github.sha etc. stay empty
		}
	}
}

// nodeFlag checks --node: an executable file, made absolute ("" stays "").
func nodeFlag(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("--node %s: %w", p, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("--node: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("--node %s: not an executable file", p)
	}
	return abs, nil
}
