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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// Options configure a run. Every field has a working zero value, stated here.
type Options struct {
	Builtins     *steps.Set        // built-in actions; nil: none
	Event        string            // github.event_name; default "push"
	EventPayload map[string]any    // github.event; default: a minimal payload for Event
	Inputs       map[string]string // workflow_dispatch inputs, checked against the workflow
	Secrets      map[string]string // the secrets context; every value is masked
	Vars         map[string]string // the vars context
	Repo         Repo              // the repository the run is for
	Parallel     int               // jobs at once; default runtime.NumCPU()
	StateDir     string            // default ".runner"; runs go to STATE/runs/<id>
	// Observer receives the run's events (jobs and steps starting and
	// ending, log lines, annotations), masked. Default: NewConsole(Out,
	// JSON, Color).
	Observer  Observer
	Out       io.Writer     // the default console's output; default io.Discard
	JSON      bool          // the default console prints zerolog JSON events
	Color     bool          // the default console's text has ANSI colours
	KillGrace time.Duration // SIGTERM to SIGKILL; default 3s
	// Force, when done, kills even the steps that run after a cancellation
	// (if: always()/cancelled()). Default: never done.
	Force context.Context
	// KeepWorkspaces keeps each job's workspace after the run; default false.
	KeepWorkspaces bool
	// ID is the run number (github.run_id); its directory STATE/runs/<ID>
	// must not exist yet. Default: the next free number under STATE/runs.
	ID int
	// Reuse gives jobs (by job id) that do not run again but keep the
	// result and outputs of an earlier attempt: re-running failed jobs.
	// Default: every job runs.
	Reuse map[string]Reused
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
}

// DefaultStepLogLimit is Options.StepLogLimit's default: 64 MiB a step.
const DefaultStepLogLimit = 64 << 20

// Reused is an earlier attempt's result of one job.
type Reused struct {
	Result  string
	Outputs map[string]string
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
	order    [2]int // job declaration index, leg index
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

// Run executes the workflow. It returns an error only when the run could not
// take place (bad inputs, no state dir); failing jobs are in Result.
// Cancelling ctx cancels the run: running steps get SIGTERM, then SIGKILL
// after KillGrace; steps with if: always() or cancelled() still run.
func Run(ctx context.Context, w *workflow.Workflow, opts Options) (*Result, error) {
	if opts.Event == "" {
		opts.Event = "push"
	}
	if opts.Parallel <= 0 {
		opts.Parallel = runtime.NumCPU()
	}
	if opts.StateDir == "" {
		opts.StateDir = ".runner"
	}
	if opts.KillGrace <= 0 {
		opts.KillGrace = 3 * time.Second
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
	base := HostEnv(opts.Env)
	inputs, err := resolveInputs(w, opts)
	if err != nil {
		return nil, err
	}
	state, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	id, dir, err := newRunDir(filepath.Join(state, "runs"), opts.ID)
	if err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	masker := &Masker{}
	for _, v := range opts.Secrets {
		masker.Add(v)
	}
	for _, v := range opts.Credentials {
		masker.Add(v)
	}
	// Credentials runner was given inside URLs: the repository's, the
	// mirrors', proxies' in the base environment.
	for _, s := range append([]string{opts.Repo.Path, opts.Settings.RegistryMirror}, base...) {
		for _, v := range URLCredentials(s) {
			masker.Add(v)
		}
	}
	r := &runState{
		w:       w,
		opts:    opts,
		id:      id,
		dir:     dir,
		state:   state,
		inputs:  inputs,
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
	// What the steps shared (the embedded registry) ends with the run.
	defer r.scope.Close()
	r.event = opts.EventPayload
	if r.event == nil {
		r.event = r.defaultPayload()
	} else if opts.Event == "workflow_dispatch" {
		given, _ := r.event["inputs"].(map[string]any)
		r.event = shallowCopy(r.event)
		r.event["inputs"] = r.eventInputs(given)
	}
	if err := r.writeEvent(); err != nil {
		return nil, err
	}
	r.title = r.runTitle()
	r.obs.emit(Event{Kind: RunStarted, Text: fmt.Sprintf("%s (run %d)", r.title, id)})
	if r.repo, err = filepath.Abs(opts.Repo.Path); err != nil || opts.Repo.Path == "" || strings.Contains(opts.Repo.Path, "://") {
		r.repo = opts.Repo.Path
	}
	r.schedule(ctx)
	res := r.result(ctx)
	if err := r.writeSummary(res); err != nil {
		return res, err
	}
	return res, nil
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
	inputs map[string]any
	event  map[string]any // github.event, also in STATE/runs/<id>/event.json
	title  string         // run-name, or the workflow's name
	masker *Masker
	obs    *observers      // the run's events, masked, to Options.Observer
	keys   map[string]bool // leg keys given out; only the scheduler uses them
	dirs   map[string]bool // leg directory names given out
	scope  *steps.Scope    // shared by the run's built-in steps
	base   []string        // Options.Env without runner's own variables
	// basePath is PATH in base: where shells are looked up.
	basePath string

	mu      sync.Mutex
	results map[string]*neededJob
	jobs    []*JobResult
	groups  map[string]*sync.Mutex // concurrency groups inside this run
	started time.Time

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
}

func (r *runState) addJob(jr *JobResult) {
	r.mu.Lock()
	r.jobs = append(r.jobs, jr)
	r.mu.Unlock()
}

func (r *runState) result(ctx context.Context) *Result {
	res := &Result{ID: r.id, Dir: r.dir, Workflow: r.workflowName(), Title: r.title, Started: r.started, Duration: time.Since(r.started), Conclusion: "success"}
	r.mu.Lock()
	defer r.mu.Unlock()
	order := map[string]int{}
	for i, j := range r.w.Jobs {
		order[j.ID] = i
	}
	res.Jobs = append(res.Jobs, r.jobs...)
	sort.SliceStable(res.Jobs, func(a, b int) bool {
		if order[res.Jobs[a].JobID] != order[res.Jobs[b].JobID] {
			return order[res.Jobs[a].JobID] < order[res.Jobs[b].JobID]
		}
		return res.Jobs[a].order[1] < res.Jobs[b].order[1]
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

func (r *runState) workflowName() string {
	if r.w.Name.Set {
		return r.w.Name.Raw
	}
	return r.w.File
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
	if !r.w.RunName.Set {
		return r.workflowName()
	}
	ctxs := map[string]any{"github": r.githubContext("", ""), "inputs": r.inputs, "vars": stringMap(r.opts.Vars)}
	title, err := r.evalString(r.w.RunName, ctxs, nil)
	if err != nil {
		r.obs.emit(Event{Kind: Line, Job: "run", Text: "Warning: run-name: " + err.Error()})
		return r.workflowName()
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

// resolveInputs checks dispatch inputs against the workflow and gives them
// their types (boolean inputs are booleans, numbers are numbers).
func resolveInputs(w *workflow.Workflow, opts Options) (map[string]any, error) {
	out := map[string]any{}
	var defs []*workflow.InputDef
	if w.On.Dispatch != nil {
		defs = w.On.Dispatch.Inputs
	}
	if opts.Event != "workflow_dispatch" {
		if len(opts.Inputs) > 0 && opts.Event != "" {
			return nil, fmt.Errorf("%w: inputs are only for event workflow_dispatch, not %s", ErrInputs, opts.Event)
		}
		return out, nil
	}
	if w.On.Dispatch == nil {
		return nil, fmt.Errorf("%w: workflow %s has no workflow_dispatch trigger", ErrInputs, w.File)
	}
	known := map[string]bool{}
	var problems []string
	for _, d := range defs {
		known[d.Name] = true
		v, ok := opts.Inputs[d.Name]
		if !ok {
			if d.Default.Set {
				v, ok = d.Default.Raw, true
			} else if d.Required {
				problems = append(problems, fmt.Sprintf("input %q is required", d.Name))
				continue
			}
		}
		if !ok {
			switch d.Type {
			case "boolean":
				out[d.Name] = false
			default:
				out[d.Name] = ""
			}
			continue
		}
		if err := workflow.CheckInput(d, v); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		switch d.Type {
		case "boolean":
			out[d.Name] = v == "true"
		case "number":
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			out[d.Name] = f
		default:
			out[d.Name] = v
		}
	}
	for k := range opts.Inputs {
		if !known[k] {
			problems = append(problems, fmt.Sprintf("unknown input %q", k))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("%w: %s", ErrInputs, strings.Join(problems, "; "))
	}
	return out, nil
}
