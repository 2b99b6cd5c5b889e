package run

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
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/buildkit"
	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/jobcache"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// Options configure a run. Every field has a working zero value, stated here.
type Options struct {
	Builtins *steps.Set        // built-in actions; nil: none
	Secrets  map[string]string // the secrets context; every value is masked
	Parallel int               // jobs at once; default runtime.NumCPU()
	StateDir string            // default ".runner"; runs go to STATE/runs/<id>
	// Observer receives the run's events (jobs and steps starting and
	// ending, log lines, annotations), masked. Default: NewConsole(Out,
	// JSON, Color).
	Observer Observer
	Out      io.Writer // the default console's output; default io.Discard
	JSON     bool      // the default console prints zerolog JSON events
	Color    bool      // the default console's text has ANSI colours
	// A cancelled step's processes get SIGINT, SIGTERM after
	// InterruptGrace, SIGKILL after KillGrace more: GitHub's runner's
	// 7.5 s and 2.5 s by default.
	InterruptGrace time.Duration
	KillGrace      time.Duration
	// Force, when done, kills even the steps that run after a cancellation
	// (if: always()/cancelled()). Default: never done.
	Force context.Context
	// KeepWorkspaces keeps each job's workspace after the run; default false.
	KeepWorkspaces bool
	// Reuse gives jobs (by job id) that do not run again but keep the
	// result and outputs of an earlier attempt: re-running failed jobs.
	// Default: every job runs.
	Reuse map[string]Reused
	// Calls are the reusable workflows the jobs call, loaded and checked
	// beforehand (CallLoader). Default: Run loads them, local ones from
	// the Repo.Path folder.
	Calls Calls
	// Env is the environment (KEY=VALUE entries) every step starts from,
	// before GitHub's default variables and the workflow's env. Runner's
	// own variables (IsOwnVariable) are dropped from it. Default:
	// HostEnv(os.Environ()), the process environment without runner's
	// variables; a service passes MinimalEnv.
	Env []string
	// Settings are runner's own settings for the built-ins (the registry
	// mirrors, BUILDKIT_HOST); they never reach a step's environment.
	// Default: none.
	Settings steps.Settings
	// Credentials are values runner holds for itself (serve's API token and
	// webhook secret, tokens in repository URLs): masked in every log line
	// and record like secrets, and not given to steps. Default none.
	Credentials []string
	// StepLogLimit caps the bytes of log lines one step may write; past it
	// the step's further output is dropped, with a note in the log.
	// Default DefaultStepLogLimit; negative: no cap.
	StepLogLimit int64
	// Actions resolves the actions that are not built-ins (./path,
	// owner/repo@ref). Default: a resolver over StateDir with GitHub as
	// the source of remote actions.
	Actions *actions.Resolver
	// Node is the node binary that runs JavaScript actions. Default: node
	// on the PATH of Env.
	Node string
	// BundledNode is a node brought beside runner: a Kubernetes pod's
	// /__runner/node, copied from the template's image into a job's
	// container:. Unless Node is set, JavaScript actions run with it when
	// it can run here (the dynamic loader it names exists) and is as new
	// as the action asks, as GitHub runs them with its own node; else
	// with node on the PATH. runner job reads it from BundledNodeEnv.
	BundledNode string
	// ToolCache is the steps' RUNNER_TOOL_CACHE (runner.tool_cache), made
	// when a job starts. Default: STATE/toolcache. runner job takes the
	// pod's RUNNER_TOOL_CACHE or AGENT_TOOLSDIRECTORY, as GitHub's runner
	// does (an image with tools in /opt/hostedtoolcache).
	ToolCache string
	// Containers runs the jobs' service containers. Default: runc, made
	// when the first job with services starts.
	Containers container.Runtime
	// Cache is the job cache (docs/cache.md): jobs that opt in with
	// RUNNER_CACHE are not run when it holds their key. Default nil: no
	// job is cached.
	Cache *jobcache.Store
	// NoCache runs every job, without looking the cache up; successful
	// jobs that opt in are still stored. Default false.
	NoCache bool
	// Remote, when set, runs each job leg elsewhere (a Kubernetes pod, a
	// child process: docs/kubernetes.md, "How a job runs remotely"): the
	// run schedules the jobs here and hands every leg, once its job's if:,
	// needs, concurrency and cache lookup are settled, to the transport,
	// which streams the leg's events, log, step summary, artifacts and
	// result back. Default nil: legs run in this process.
	Remote LegTransport

	// remoteLeg is set by ServeLeg: this run is one leg of a controller's
	// run elsewhere (a pod), so advice about this machine names the
	// remote's image, not runner exec's flags.
	remoteLeg bool
	// containerIsHere: this process runs in the job's container (a pod
	// whose image is the job's container: image), so the job starts
	// none (remote_leg.go).
	containerIsHere bool
	// podServices are the job's services when they are containers of
	// this leg's pod (label → container ports), ready before the leg
	// started: the job starts none. Nil: the job starts its own.
	podServices map[string][]int
	// legContainers, in a remote leg whose controller runs its
	// containers, is where test-image's container runs (RunInfo's
	// Containers).
	legContainers container.Runtime
	// podWorkDir, in a remote leg whose pod holds its work directories
	// on volumes of their own (LegWorkDir), is their root: the job's
	// workspace, temp (with _github_home and _runner_file_commands) and
	// _github_workflow, which a Docker action's container mounts.
	podWorkDir string
}

// DefaultStepLogLimit is Options.StepLogLimit's default: 64 MiB a step.
const DefaultStepLogLimit = 64 << 20

// Reused is an earlier attempt's result of one job.
type Reused struct {
	Result  string
	Outputs map[string]string
	// Legs are the job's legs in that attempt (a matrix job's
	// combinations), each kept as a job of its own. None: one, named
	// after the job id.
	Legs []ReusedLeg `json:",omitempty"`
}

// ReusedLeg is one leg of a job kept from an earlier attempt.
type ReusedLeg struct {
	Key    string // "build (1.22, linux)"
	Name   string // its display name
	Result string
}

// Repo describes the repository a run is for: github.sha, github.ref, ...
type Repo struct {
	Path       string // local path or URL; checkout clones from it
	SHA        string
	Ref        string // refs/heads/main
	Actor      string
	Repository string // owner/name
}

// Result is a finished run.
type Result struct {
	ID         int
	Dir        string // STATE/runs/<id>
	Workflow   string
	Title      string // run-name evaluated, else the workflow's name
	Conclusion string // success, failure or cancelled
	Started    time.Time
	Duration   time.Duration
	Jobs       []*JobResult
}

// JobResult is one job (one per matrix combination).
type JobResult struct {
	Key      string // "build (1.22, linux)"
	JobID    string
	Name     string
	Result   string // success, failure, cancelled, skipped
	Outputs  map[string]string
	Steps    []*StepResult
	Started  time.Time
	Duration time.Duration
	Error    string `json:",omitempty"`
	// Runner names where the leg ran when not in this process: a
	// Kubernetes pod (LegConn's RunnerName). Empty: here.
	Runner string `json:",omitempty"`
	// Cached is set when the job did not run: its result was restored
	// from the job cache. Result is then success.
	Cached  *CacheHit `json:",omitempty"`
	order   [2]int    // job declaration index, leg index
	coerced bool      // failed, made a success by continue-on-error (remote.go)
	sortKey []int     // the caller's place (call.go), then order
}

// StepResult is one step of a job.
type StepResult struct {
	ID         string `json:",omitempty"`
	Name       string
	Outcome    string
	Conclusion string
	Duration   time.Duration
	Error      string `json:",omitempty"`
}

// ErrInputs reports dispatch inputs that do not fit the workflow.
var ErrInputs = errors.New("invalid inputs")

// Run executes a plan (NewPlan). It returns an error only when the run
// could not take place (no state dir, a run directory STATE/runs/<ID>
// that exists); failing jobs are in Result. Cancelling ctx cancels the
// run: running steps get SIGINT, then SIGTERM after InterruptGrace and
// SIGKILL after KillGrace; steps with
// if: always() or cancelled() still run.
func Run(ctx context.Context, plan *Plan, opts Options) (*Result, error) {
	opts, state, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	// The reusable workflows the jobs call are loaded and checked before
	// anything is written or run.
	calls := opts.Calls
	if calls == nil {
		if calls, err = plan.loadCalls(ctx, opts); err != nil {
			return nil, err
		}
	}
	id, dir, err := newRunDir(filepath.Join(state, "runs"), plan.ID)
	if err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	r := newRunState(plan, opts, state, id, dir)
	r.calls = calls
	// What the steps shared (the embedded registry) ends with the run.
	defer r.scope.Close()
	if err := r.writeEvent(); err != nil {
		return nil, err
	}
	r.title = r.runTitle()
	r.obs.emit(Event{Kind: RunStarted, Text: fmt.Sprintf("%s (run %d)", r.title, id)})
	r.schedule(ctx)
	r.settleRemote()
	res := r.result(ctx)
	if err := r.writeSummary(res); err != nil {
		return res, err
	}
	return res, nil
}

// withDefaults fills in the options' defaults; state is StateDir made
// absolute.
func (opts Options) withDefaults() (_ Options, state string, err error) {
	if opts.Parallel <= 0 {
		opts.Parallel = runtime.NumCPU()
	}
	if opts.StateDir == "" {
		opts.StateDir = ".runner"
	}
	if opts.InterruptGrace <= 0 {
		opts.InterruptGrace = 7500 * time.Millisecond
	}
	if opts.KillGrace <= 0 {
		opts.KillGrace = 2500 * time.Millisecond
	}
	if opts.Force == nil {
		opts.Force = context.Background()
	}
	if opts.StepLogLimit == 0 {
		opts.StepLogLimit = DefaultStepLogLimit
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	if state, err = filepath.Abs(opts.StateDir); err != nil {
		return opts, "", err
	}
	if opts.Actions == nil {
		opts.Actions = &actions.Resolver{StateDir: state}
	}
	if opts.ToolCache == "" {
		opts.ToolCache = filepath.Join(state, "toolcache")
	}
	return opts, state, nil
}

// newRunState is the state of run id (its directory dir made) of plan,
// with its masker and observers; opts have their defaults.
func newRunState(plan *Plan, opts Options, state string, id int, dir string) *runState {
	base := HostEnv(opts.Env)
	p := *plan
	p.ID = id
	masker := &Masker{}
	for _, v := range opts.Secrets {
		masker.Add(v)
	}
	for _, v := range opts.Credentials {
		masker.Add(v)
	}
	// Credentials runner was given inside URLs: the repository's, the
	// mirrors', proxies' in the base environment.
	for _, s := range append([]string{p.Repo.Path, opts.Settings.RegistryMirror, opts.Actions.Source.URL}, base...) {
		for _, v := range URLCredentials(s) {
			masker.Add(v)
		}
	}
	r := &runState{
		w:       plan.Workflow,
		plan:    &p,
		opts:    opts,
		id:      id,
		dir:     dir,
		state:   state,
		masker:  masker,
		obs:     &observers{obs: opts.observer(), masker: masker},
		results: map[string]*neededJob{},
		groups:  map[string]*sync.Mutex{},
		started: time.Now(),
		nonce:   newNonce(),
		scope:   steps.NewScope(state),
		base:    base,
	}
	for _, kv := range base {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			r.basePath = v
		}
	}
	var err error
	if r.repo, err = filepath.Abs(p.Repo.Path); err != nil || p.Repo.Path == "" || strings.Contains(p.Repo.Path, "://") {
		r.repo = p.Repo.Path
	}
	return r
}

// observer is o.Observer, or the console it defaults to.
func (o Options) observer() Observer {
	if o.Observer != nil {
		return o.Observer
	}
	if o.Out == nil {
		return ObserverFunc(func(Event) {})
	}
	return NewConsole(o.Out, o.JSON, o.Color)
}

// runState is shared by the jobs of one run.
type runState struct {
	w      *workflow.Workflow
	opts   Options
	id     int
	dir    string
	state  string
	repo   string
	plan   *Plan  // with its ID; its Payload is also STATE/runs/<id>/event.json
	title  string // run-name, or the workflow's name
	masker *Masker
	obs    *observers      // the run's events, masked, to Options.Observer
	keys   map[string]bool // leg keys given out; only the scheduler uses them
	dirs   map[string]bool // leg directory names given out
	scope  *steps.Scope    // shared by the run's built-in steps
	// daemons shares runner's own buildkitd between the Dockerfile
	// actions built at the same time (top-level runState only).
	daemons buildkit.Manager
	base    []string // Options.Env without runner's own variables
	// basePath is PATH in base: where shells are looked up.
	basePath string

	mu      sync.Mutex
	results map[string]*neededJob
	jobs    []*JobResult
	groups  map[string]*sync.Mutex // concurrency groups inside this run
	started time.Time

	// A called workflow's runState (call.go): root is the top-level one,
	// frame its caller, ctx the caller leg's context; calls are the
	// workflows this one's jobs call. states and byID are the jobs the
	// scheduler knows (states on the top-level runState only).
	root   *runState
	frame  *frame
	ctx    context.Context
	calls  Calls
	states []*scheduledJob
	byID   map[string]*scheduledJob

	// frames, in a remote leg's process (runner job --stdio), carries the
	// leg's log lines and step summary to the controller (remote_leg.go).
	frames *frameWriter
	// artifactsIn, in a remote leg's process, is the run's artifacts
	// still arriving on the stream when the steps start.
	artifactsIn *artifactGate

	nonce    string // random, names this run's processes (RUNNER_TRACKING_ID)
	bashOnce sync.Once
	pathMu   sync.Mutex
	paths    map[string]string // lookPath's cache
	bash     bool
}

// neededJob is what dependents see of a job: needs.<id>.
type neededJob struct {
	result  string
	outputs map[string]string
	failed  bool // this job or an ancestor failed: failure() in dependents
	// upstreamSucceeded: every job this one depends on, directly or
	// through others, succeeded; succeeded adds this job's own result.
	// A dependent's implicit success() covers all its ancestors.
	upstreamSucceeded, succeeded bool
}

func (r *runState) addJob(jr *JobResult) {
	jr.sortKey = r.sortKey(jr)
	r = r.top()
	r.mu.Lock()
	r.jobs = append(r.jobs, jr)
	r.mu.Unlock()
}

func (r *runState) result(ctx context.Context) *Result {
	res := &Result{ID: r.id, Dir: r.dir, Workflow: r.plan.WorkflowName(), Title: r.title, Started: r.started, Duration: time.Since(r.started), Conclusion: "success"}
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Jobs = append(res.Jobs, r.jobs...)
	sort.SliceStable(res.Jobs, func(a, b int) bool {
		return slices.Compare(res.Jobs[a].sortKey, res.Jobs[b].sortKey) < 0
	})
	// Names are evaluated expressions and may hold a secret, or a value
	// masked later with ::add-mask::: the record is masked as a whole.
	res.Workflow, res.Title = r.masker.Mask(res.Workflow), r.masker.Mask(res.Title)
	for _, j := range res.Jobs {
		j.Key, j.Name, j.Error = r.masker.Mask(j.Key), r.masker.Mask(j.Name), r.masker.Mask(j.Error)
		for _, s := range j.Steps {
			s.Name, s.Error = r.masker.Mask(s.Name), r.masker.Mask(s.Error)
		}
	}
	for _, o := range r.results {
		if o.result == "failure" {
			res.Conclusion = "failure"
		}
	}
	if ctx.Err() != nil {
		res.Conclusion = "cancelled"
	}
	return res
}

// writeSummary stores the run record, masked, as summary.json.
func (r *runState) writeSummary(res *Result) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.dir, "summary.json"), []byte(r.masker.Mask(string(data))+"\n"), 0o644)
}

// runTitle evaluates run-name with the github and inputs contexts; a
// run-name that fails to evaluate leaves the workflow's name, with a note.
func (r *runState) runTitle() string {
	title, err := r.plan.Title()
	if err != nil {
		r.obs.emit(Event{Kind: Line, Job: "run", Text: "Warning: " + err.Error()})
	}
	return title
}

func shallowCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func newNonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRunDir creates STATE/runs/<n> with the next free number.
func newRunDir(root string, id int) (int, string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return 0, "", err
	}
	if id > 0 {
		dir := filepath.Join(root, strconv.Itoa(id))
		return id, dir, os.Mkdir(dir, 0o755)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return 0, "", err
	}
	next := 1
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n >= next {
			next = n + 1
		}
	}
	for ; ; next++ {
		dir := filepath.Join(root, strconv.Itoa(next))
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return next, dir, nil
		}
		if !os.IsExist(err) {
			return 0, "", err
		}
	}
}
