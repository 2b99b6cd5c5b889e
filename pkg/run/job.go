package run

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// scheduledJob is one job of the workflow while the run schedules it: its
// legs, how many may run at once and how many have.
type scheduledJob struct {
	job      *workflow.Job
	r        *runState // its workflow's: the top-level one, or a called one
	index    int       // declaration order
	prepared bool
	done     bool
	outcome  *neededJob

	legs        []*legRun
	results     []*JobResult
	legCtx      context.Context // cancelled by fail-fast, or with the run
	cancelLegs  context.CancelFunc
	failFast    bool
	maxParallel int
	next        int      // first leg not started yet
	waiting     []func() // legs of a calling job not started yet (call.go)
	running     int
	finished    int
}

// finishedLeg reports a finished leg to the scheduler.
type finishedLeg struct {
	js  *scheduledJob
	i   int
	res *JobResult
}

// schedule runs the jobs. One loop decides everything, so the order is
// deterministic: jobs whose needs are done are prepared in declaration
// order, and legs start in job declaration order, then matrix order, as
// slots (Options.Parallel, max-parallel) free up.
func (r *runState) schedule(ctx context.Context) {
	r.byID = map[string]*scheduledJob{}
	for i, j := range r.w.Jobs {
		r.states = append(r.states, &scheduledJob{job: j, index: i, r: r})
		r.byID[j.ID] = r.states[i]
	}
	ready := func(js *scheduledJob) bool {
		for _, n := range js.job.Needs {
			if d := js.r.byID[n.Raw]; d != nil && !d.done {
				return false
			}
		}
		return true
	}
	doneCh := make(chan finishedLeg)
	running := 0
	for {
		for progress := true; progress; {
			progress = false
			// r.states grows as jobs that call a workflow start (call.go).
			for i := 0; i < len(r.states); i++ {
				if js := r.states[i]; !js.prepared && ready(js) {
					js.prepared, progress = true, true
					jobCtx := ctx
					if js.r.ctx != nil {
						jobCtx = js.r.ctx
					}
					js.r.prepareJob(jobCtx, js)
				}
			}
		}
		for _, js := range r.states {
			for js.prepared && !js.done && js.next < len(js.legs) && running < r.opts.Parallel && js.running < js.maxParallel {
				i := js.next
				js.next++
				if js.legCtx.Err() != nil {
					// Cancelled (fail-fast or the run) before it started:
					// like GitHub, the leg does not run at all.
					js.r.legEnded(js, i, js.legs[i].notStarted())
					continue
				}
				running++
				js.running++
				go func(js *scheduledJob, i int) {
					doneCh <- finishedLeg{js, i, js.legs[i].run(js.legCtx)}
				}(js, i)
			}
		}
		if running == 0 {
			break
		}
		d := <-doneCh
		running--
		d.js.running--
		d.js.r.legEnded(d.js, d.i, d.res)
	}
}

// legEnded records a leg's result; fail-fast cancels the other legs, and
// the last leg ends the job.
func (r *runState) legEnded(js *scheduledJob, i int, res *JobResult) {
	js.results[i] = res
	js.finished++
	if res.Result == "failure" && js.failFast {
		js.cancelLegs()
	}
	if js.finished < len(js.results) {
		return
	}
	js.cancelLegs()
	o := js.outcome
	o.result = "success"
	o.outputs = map[string]string{}
	anyCancelled := false
	for _, res := range js.results {
		for k, v := range res.Outputs {
			o.outputs[k] = v
		}
		switch res.Result {
		case "failure":
			o.result = "failure"
		case "cancelled":
			anyCancelled = true
		}
	}
	if o.result != "failure" && anyCancelled {
		o.result = "cancelled"
	}
	o.failed = o.failed || o.result == "failure"
	o.succeeded = o.upstreamSucceeded && o.result == "success"
	r.endJob(js)
}

// endJob makes the job's outcome visible to its dependents.
func (r *runState) endJob(js *scheduledJob) {
	js.done = true
	r.mu.Lock()
	r.results[js.job.ID] = js.outcome
	r.mu.Unlock()
	if r.frame != nil {
		r.frameEnded()
	}
}

// prepareJob decides whether a job whose needs are done runs, and expands
// its matrix into legs. A job that does not run ends here.
func (r *runState) prepareJob(ctx context.Context, js *scheduledJob) {
	j := js.job
	if prior, ok := r.opts.Reuse[j.ID]; ok {
		js.outcome = &neededJob{result: prior.Result, outputs: prior.Outputs, failed: prior.Result == "failure", succeeded: prior.Result == "success"}
		legs := prior.Legs
		if len(legs) == 0 {
			legs = []ReusedLeg{{Key: j.ID, Name: j.ID, Result: prior.Result}}
		}
		for i, l := range legs {
			r.addJob(&JobResult{Key: l.Key, JobID: j.ID, Name: l.Name, Result: l.Result, Outputs: prior.Outputs, order: [2]int{js.index, i}})
			r.obs.emit(Event{Job: l.Key, Kind: JobStarted, Text: l.Name, Leg: i})
			r.obs.emit(Event{Job: l.Key, Kind: JobEnded, Status: l.Result, Text: "kept from the earlier attempt", Leg: i, Kept: true})
		}
		r.endJob(js)
		return
	}
	needs, allSucceeded, ancestorFailed := r.needsOf(j)
	base := r.baseContexts(j)
	base["needs"] = needs
	status := statusFuncs{
		success:   func() bool { return allSucceeded && ctx.Err() == nil },
		failure:   func() bool { return ancestorFailed },
		cancelled: func() bool { return ctx.Err() != nil },
	}
	js.outcome = &neededJob{result: "skipped", failed: ancestorFailed, upstreamSucceeded: allSucceeded}
	fail := func(err error) {
		r.failJob(j, r.jobKey(j), err, js.outcome)
		r.endJob(js)
	}
	run, err := r.evalCondition(j.If, base, status, "")
	if err != nil {
		fail(err)
		return
	}
	if !run {
		r.addJob(&JobResult{Key: r.jobKey(j), JobID: r.jobID(j), Name: r.jobName(j, base), Result: "skipped", order: [2]int{js.index, 0}})
		r.obs.emit(Event{Job: r.jobKey(j), Kind: JobEnded, Status: "skipped"})
		r.endJob(js)
		return
	}
	st, err := r.strategyOf(j, base)
	if err != nil {
		fail(err)
		return
	}
	if len(st.combos) == 0 { // every leg filtered out (Plan.Matrix)
		r.addJob(&JobResult{Key: r.jobKey(j), JobID: r.jobID(j), Name: r.jobName(j, base), Result: "skipped", order: [2]int{js.index, 0}})
		r.obs.emit(Event{Job: r.jobKey(j), Kind: JobEnded, Status: "skipped", Text: "no matrix leg matches the filter"})
		r.endJob(js)
		return
	}
	// A job that starts after the run was cancelled (if: always() or
	// cancelled()) is not cancelled itself, as on GitHub: its steps run
	// normally. Only Options.Force stops it.
	jobBase := ctx
	if ctx.Err() != nil {
		jobBase = r.opts.Force
	}
	js.legCtx, js.cancelLegs = context.WithCancel(jobBase)
	js.failFast, js.maxParallel = st.failFast, st.maxParallel
	js.results = make([]*JobResult, len(st.combos))
	if j.Call != nil {
		r.startCalls(js, st, needs)
		return
	}
	for i, c := range st.combos {
		leg := &legRun{r: r, job: j, combo: c, needs: needs, order: [2]int{js.index, i}}
		if j.Strategy != nil {
			leg.strategy = map[string]any{"fail-fast": st.failFast, "job-index": float64(i), "job-total": float64(len(st.combos)), "max-parallel": float64(st.maxParallel)}
		}
		leg.suffix = c.Suffix()
		leg.key = r.top().claimKey(r.jobKey(j)+leg.suffix, i)
		leg.dirName = r.top().claimDir(unsafeName.ReplaceAllString(leg.key, "_"))
		js.legs = append(js.legs, leg)
	}
}

// needsOf is the needs context of job j, whether every job it depends on,
// directly or through others, succeeded (the implicit success() covers all
// of them, as on GitHub), and whether one of them failed.
func (r *runState) needsOf(j *workflow.Job) (needs map[string]any, allSucceeded, ancestorFailed bool) {
	needs, allSucceeded = map[string]any{}, true
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range j.Needs {
		o := r.results[n.Raw]
		outs := map[string]any{}
		for k, v := range o.outputs {
			outs[k] = v
		}
		needs[n.Raw] = map[string]any{"result": o.result, "outputs": outs}
		allSucceeded = allSucceeded && o.succeeded
		ancestorFailed = ancestorFailed || o.failed
	}
	return needs, allSucceeded, ancestorFailed
}

// jobStrategy is a job's strategy, evaluated: its legs and how they run.
type jobStrategy struct {
	combos      []workflow.Combo
	failFast    bool
	maxParallel int // 1..len(combos)
}

// strategyOf evaluates j's strategy with the job-level contexts base.
func (r *runState) strategyOf(j *workflow.Job, base map[string]any) (jobStrategy, error) {
	st := jobStrategy{combos: []workflow.Combo{{}}, failFast: true}
	if s := j.Strategy; s != nil {
		if s.Matrix != nil {
			m, err := workflow.DecodeMatrix(s.Matrix, func(src string) (any, error) {
				t, err := expr.ParseTemplate(src)
				if err != nil {
					return nil, err
				}
				return t.EvalExact(r.exprEnv(base, nil, ""))
			})
			if err == nil {
				st.combos, err = m.Combos()
			}
			if err != nil {
				pos := s.Pos // the value at fault, else the strategy
				var pe *workflow.PosError
				if errors.As(err, &pe) {
					pos = pe.Pos
				}
				return st, fmt.Errorf("%s:%d:%d: matrix: %w", r.w.File, pos.Line, pos.Col, err)
			}
			if len(r.plan.Matrix) > 0 {
				st.combos = slices.DeleteFunc(st.combos, func(c workflow.Combo) bool { return !r.plan.keepLeg(c) })
			}
		}
		if s.FailFast.Set {
			v, err := r.evalFlag(s.FailFast, base)
			if err != nil {
				return st, err
			}
			st.failFast = v
		}
		if s.MaxParallel.Set {
			v, err := r.evalString(s.MaxParallel, base, nil)
			if err == nil {
				st.maxParallel, err = strconv.Atoi(strings.TrimSpace(v))
			}
			if err != nil {
				return st, fmt.Errorf("max-parallel: %w", err)
			}
		}
	}
	if st.maxParallel <= 0 || st.maxParallel > len(st.combos) {
		st.maxParallel = len(st.combos)
	}
	return st, nil
}

// claimKey makes a leg's key unique in the run: two legs whose values
// display alike get their position appended.
func (r *runState) claimKey(key string, i int) string {
	if r.keys == nil {
		r.keys = map[string]bool{}
	}
	if r.keys[key] {
		key += " #" + strconv.Itoa(i+1)
	}
	for n := 2; r.keys[key]; n++ {
		key = fmt.Sprintf("%s #%d.%d", key, i+1, n)
	}
	r.keys[key] = true
	return key
}

// claimDir gives a leg a directory and log name of its own: different keys
// may clean to the same file name ("a/b", "a_b", "a b").
func (r *runState) claimDir(name string) string {
	if r.dirs == nil {
		r.dirs = map[string]bool{}
	}
	out := name
	for n := 2; r.dirs[out]; n++ {
		out = name + "_" + strconv.Itoa(n)
	}
	r.dirs[out] = true
	return out
}

func (r *runState) failJob(j *workflow.Job, key string, err error, o *neededJob) {
	msg := r.masker.Mask(err.Error())
	r.addJob(&JobResult{Key: key, JobID: r.jobID(j), Name: r.jobName(j, nil), Result: "failure", Error: msg})
	r.obs.emit(Event{Job: key, Kind: Line, Text: "Error: " + msg})
	r.obs.emit(Event{Job: key, Kind: JobEnded, Status: "failure"})
	o.result, o.failed = "failure", true
}

// jobName is the job's name as GitHub shows it: its name: evaluated, else
// its id; after "caller / " in a called workflow.
func (r *runState) jobName(j *workflow.Job, ctxs map[string]any) string {
	prefix := ""
	if r.frame != nil {
		prefix = r.frame.name + " / "
	}
	if !j.Name.Set || ctxs == nil {
		return prefix + j.ID
	}
	name, err := r.evalString(j.Name, ctxs, nil)
	if err != nil {
		return prefix + j.ID
	}
	return prefix + name
}

// legRun is one leg of a job: the job itself, or one matrix combination.
type legRun struct {
	r        *runState
	job      *workflow.Job
	combo    workflow.Combo
	needs    map[string]any
	strategy map[string]any
	order    [2]int // job declaration index, leg index
	suffix   string // " (values)" of the combination
	dirName  string // unique in the run: jobs/<dirName>, <dirName>.log

	// js is the state and the post steps of the JavaScript actions.
	js jsActions
	// ctr is the job's container (jobcontainer.go); nil: steps run on
	// the host.
	ctr *jobContainer

	key        string // unique in the run: job id + suffix
	cancelled  bool   // the job was cancelled: job.status, cancelled()
	workspace  string
	temp       string
	log        *jobLog
	env        map[string]string // workflow + job env, then GITHUB_ENV additions
	defaults   workflow.Defaults // defaults.run, evaluated: the job's over the workflow's
	envOrder   []string
	path       []string // GITHUB_PATH entries, newest first
	steps      *expr.Object
	failed     bool
	trackingID string
	cgroup     *jobCgroup // nil: none (not root)
	actions    []string   // GITHUB_ACTION by step index
	acts       *jobSetUp  // remote actions resolved at set-up (setup.go)
	madeFiles  bool
	filesEmpty bool // every command file exists and is empty

	// scope is the composite action whose steps run; nil: the job's.
	scope *compositeScope
	// services are the job's service containers, started (services.go).
	services []*runningService
	// cache is set when the job opted into the job cache (cache.go).
	cache *legCache
	// matchers are the problem matchers registered (matchers.go).
	matchers jobMatchers
	// uploaded are the artifacts the leg's steps uploaded, by name.
	uploaded []string
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// notStarted is the result of a leg cancelled before it started.
func (jr *legRun) notStarted() *JobResult {
	res := &JobResult{Key: jr.key, JobID: jr.r.jobID(jr.job), Name: jr.r.jobName(jr.job, jr.contexts()) + jr.suffix, Result: "cancelled", Outputs: map[string]string{}, order: jr.order}
	jr.r.addJob(res)
	jr.r.obs.emit(Event{Job: jr.key, Kind: JobEnded, Status: res.Result, Leg: jr.order[1]})
	return res
}

// status is job.status: cancelled wins over failure, as GitHub merges
// step results.
func (jr *legRun) status() string {
	switch {
	case jr.cancelled:
		return "cancelled"
	case jr.failed:
		return "failure"
	}
	return "success"
}

func (jr *legRun) run(ctx context.Context) *JobResult {
	r, j := jr.r, jr.job
	res := &JobResult{Key: jr.key, JobID: r.jobID(j), Started: time.Now(), Outputs: map[string]string{}, order: jr.order}
	defer func() {
		res.Duration = time.Since(res.Started)
		r.addJob(res)
		r.obs.emit(Event{Job: jr.key, Kind: JobEnded, Status: res.Result, Duration: res.Duration, Text: res.Cached.text(), Cached: res.Cached, Leg: jr.order[1]})
	}()
	fail := func(err error) *JobResult {
		res.Result, res.Error = "failure", r.masker.Mask(err.Error())
		r.obs.emit(Event{Job: jr.key, Kind: Line, Text: "Error: " + res.Error})
		jr.log.line("job", "Error: "+res.Error)
		return res
	}
	cleanup, err := jr.setup()
	defer cleanup()
	if err != nil {
		return fail(err)
	}
	ctxs := jr.contexts()
	res.Name = r.jobName(j, ctxs) + jr.suffix
	r.obs.emit(Event{Job: jr.key, Kind: JobStarted, Text: res.Name, Leg: jr.order[1]})
	unlock, err := jr.lockGroup(ctxs)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	timeout := 360 * time.Minute
	if j.TimeoutMinutes.Set {
		if timeout, err = r.minutes(j.TimeoutMinutes, ctxs); err != nil {
			return fail(err)
		}
	}
	jobCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := jr.evalEnv(); err != nil {
		return fail(err)
	}
	if jr.remote() {
		// The cache is the controller's: its key reads the repository at
		// the run's commit, and the remote actions' commits (set up here
		// only then).
		if spec, err := jobCacheSpec(r.w.File, j); err == nil && spec.on && r.opts.Cache != nil {
			if err := jr.setUpActions(jobCtx); err != nil {
				return fail(err)
			}
		}
		if jr.cacheLookup(jobCtx, res) {
			return res
		}
		coerced, err := jr.runRemote(ctx, res, timeout)
		if err != nil {
			return fail(err)
		}
		jr.cacheStore(ctx, res, coerced)
		return res
	}
	if err := jr.setUpActions(jobCtx); err != nil {
		return fail(err)
	}
	if jr.cacheLookup(jobCtx, res) {
		return res
	}
	defer jr.stopServices(ctx)
	if err := jr.startServices(jobCtx); err != nil {
		if ctx.Err() != nil {
			res.Result = "cancelled"
			return res
		}
		return fail(err)
	}
	jr.steps = expr.NewObject()
	defer jr.stopContainer(ctx)
	if err := jr.startContainer(jobCtx); err != nil {
		if ctx.Err() != nil {
			res.Result = "cancelled"
			return res
		}
		return fail(err)
	}
	res.Steps = append(res.Steps, jr.runPre(jobCtx)...)
	for _, s := range j.Steps {
		res.Steps = append(res.Steps, jr.runStep(jobCtx, s))
	}
	res.Steps = append(res.Steps, jr.runPost(jobCtx)...)
	switch {
	case (jr.failed || jr.cancelled) && jobCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil:
		res.Result, res.Error = "failure", fmt.Sprintf("the job exceeded its timeout of %s", timeout)
	case ctx.Err() != nil:
		res.Result = "cancelled"
	case jr.failed:
		res.Result = "failure"
	default:
		res.Result = "success"
	}
	jr.outputs(res)
	coerced := false
	if j.ContinueOnError.Set && res.Result == "failure" {
		if v, err := r.evalFlag(j.ContinueOnError, jr.contexts()); err == nil && v {
			res.Result, coerced = "success", true
		}
	}
	jr.cacheStore(ctx, res, coerced)
	return res
}

// setup makes the job's workspace, temp dir and log, and its cgroup and
// tracking id: background processes a step leaves behind end with the job,
// as on GitHub (those in the job's cgroup, then any other that still has
// the job's RUNNER_TRACKING_ID, when there is no cgroup: not root).
// cleanup undoes what setup did, also after an error.
func (jr *legRun) setup() (cleanup func(), err error) {
	r := jr.r
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	dir := filepath.Join(r.dir, "jobs", jr.dirName)
	if r.opts.podWorkDir != "" {
		// The pod's volumes, which a Docker action's container mounts.
		dir = r.opts.podWorkDir
	}
	jr.workspace = filepath.Join(dir, "workspace")
	jr.temp = filepath.Join(dir, "_temp")
	if r.opts.podWorkDir == "" {
		jr.temp = filepath.Join(dir, "temp")
	}
	for _, d := range []string{jr.workspace, jr.temp, r.opts.ToolCache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return cleanup, err
		}
	}
	undo = append(undo, func() { os.RemoveAll(jr.temp) })
	if !r.opts.KeepWorkspaces {
		undo = append(undo, func() { os.RemoveAll(jr.workspace) })
	}
	f, err := os.Create(filepath.Join(r.dir, jr.dirName+".log"))
	if err != nil {
		return cleanup, err
	}
	jr.log = &jobLog{f: f, masker: r.masker, start: time.Now()}
	if w := r.top().frames; w != nil { // a remote leg: to the controller
		jr.log.tee = func(line string) { w.send(textFrame(frameLog, line)) }
	}
	undo = append(undo, jr.log.close)
	// Unique across processes and runs: run numbers repeat between state
	// directories, and a collision would kill another run's processes.
	jr.trackingID = fmt.Sprintf("runner_%s_%s", r.nonce, jr.dirName)
	if jr.remote() {
		return cleanup, nil // its processes are the remote's (remote.go)
	}
	jr.cgroup = jobCgroups().newJob(jr.trackingID)
	undo = append(undo, func() {
		jr.cgroup.end(r.opts.KillGrace)
		killTracked(jr.trackingID, r.opts.KillGrace)
	})
	return cleanup, nil
}

// lockGroup waits for the job's concurrency group inside the run (legs of
// one group take turns) and returns its unlock.
func (jr *legRun) lockGroup(ctxs map[string]any) (unlock func(), err error) {
	r, j := jr.r, jr.job
	if j.Concurrency == nil {
		return func() {}, nil
	}
	group, err := r.evalString(j.Concurrency.Group, ctxs, nil)
	if err != nil {
		return func() {}, err
	}
	top := r.top() // groups are the run's, across called workflows
	top.mu.Lock()
	m := top.groups[group]
	if m == nil {
		m = &sync.Mutex{}
		top.groups[group] = m
	}
	top.mu.Unlock()
	m.Lock()
	return m.Unlock, nil
}

// evalEnv sets the job's env: the workflow's, then the job's; then the
// job's defaults, which see it (evalDefaults). runs-on is evaluated first,
// as GitHub does before the job starts: runner runs every job here, but an
// expression there that fails fails the job, as on GitHub.
func (jr *legRun) evalEnv() error {
	ctxs := jr.contexts()
	for _, v := range append(slices.Clone(jr.job.RunsOn), jr.job.RunsOnGroup) {
		if v.Set && strings.Contains(v.Raw, "${{") {
			t, err := expr.ParseTemplate(v.Raw)
			if err == nil {
				_, err = t.Eval(jr.r.exprEnv(ctxs, nil, ""))
			}
			if err != nil {
				return jr.r.place(ctxs, v, fmt.Errorf("runs-on: %w", err))
			}
		}
	}
	jr.env = map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(jr.r.plan.Env)) {
		jr.setEnv(k, jr.r.plan.Env[k])
	}
	for _, layer := range [][]workflow.KV{jr.r.w.Env, jr.job.Env} {
		entries, err := jr.r.envEntries(layer, jr.contexts())
		if err != nil {
			return err
		}
		for _, e := range entries {
			jr.setEnv(e[0], e[1])
		}
	}
	return jr.evalDefaults()
}

// evalDefaults sets the job's defaults.run: the job's own, evaluated once
// when the job starts with its contexts (env, needs, matrix…), as GitHub's
// runner does, over the workflow's, which hold no expressions (GitHub
// allows none there; validation refuses them).
func (jr *legRun) evalDefaults() error {
	jr.defaults = jr.r.w.Defaults
	ctxs := jr.contexts()
	for _, d := range []struct{ job, dst *workflow.Value }{
		{&jr.job.Defaults.Shell, &jr.defaults.Shell},
		{&jr.job.Defaults.WorkingDirectory, &jr.defaults.WorkingDirectory},
	} {
		if !d.job.Set {
			continue
		}
		v, err := jr.r.evalString(*d.job, ctxs, nil)
		if err != nil {
			return err
		}
		*d.dst = workflow.Value{Raw: v, Pos: d.job.Pos, Set: true}
	}
	return nil
}

// outputs evaluates the job's outputs at its end, with the steps context;
// one that holds a secret is skipped, as on GitHub.
func (jr *legRun) outputs(res *JobResult) {
	r := jr.r
	ctxs := jr.contexts()
	for _, kv := range jr.job.Outputs {
		v, err := r.evalString(kv.Value, ctxs, nil)
		if err != nil {
			jr.emit("job", "Warning: output "+kv.Key+": "+err.Error())
			continue
		}
		if r.masker.Mask(v) != v {
			jr.emit("job", "Warning: Skip output '"+kv.Key+"' since it may contain secret.")
			continue
		}
		res.Outputs[kv.Key] = v
	}
}

func (jr *legRun) setEnv(k, v string) {
	if _, ok := jr.env[k]; !ok {
		jr.envOrder = append(jr.envOrder, k)
	}
	jr.env[k] = v
}

// emit prints a line for this job and stores it in the job log.
func (jr *legRun) emit(step, text string) {
	jr.r.obs.emit(Event{Job: jr.key, Step: step, Kind: Line, Text: text})
	jr.log.line(step, text)
}

// minutes evaluates a timeout-minutes value (fractions allowed).
func (r *runState) minutes(v workflow.Value, ctxs map[string]any) (time.Duration, error) {
	s, err := r.evalString(v, ctxs, nil)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%s:%d:%d: timeout-minutes must be a positive number, not %q", r.w.File, v.Line, v.Col, s)
	}
	return time.Duration(f * float64(time.Minute)), nil
}
