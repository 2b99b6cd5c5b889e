package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// runJob waits for the job's needs, decides whether it runs, expands its
// matrix and runs every leg. It always closes r.done[j.ID].
func (r *runState) runJob(ctx context.Context, j *workflow.Job) {
	defer close(r.done[j.ID])
	if prior, ok := r.opts.Reuse[j.ID]; ok {
		r.mu.Lock()
		r.results[j.ID] = &jobOutcome{result: prior.Result, outputs: prior.Outputs, failed: prior.Result == "failure"}
		r.mu.Unlock()
		r.addJob(&JobResult{Key: j.ID, JobID: j.ID, Name: j.ID, Result: prior.Result, Outputs: prior.Outputs})
		r.console.emit(event{Job: j.ID, Kind: "end", Status: prior.Result, Text: "kept from the earlier attempt"})
		return
	}
	for _, n := range j.Needs {
		<-r.done[n.Raw] // needs end promptly on cancellation, so no select
	}
	needs := map[string]any{}
	allSucceeded, ancestorFailed := true, false
	r.mu.Lock()
	for _, n := range j.Needs {
		o := r.results[n.Raw]
		outs := map[string]any{}
		for k, v := range o.outputs {
			outs[k] = v
		}
		needs[n.Raw] = map[string]any{"result": o.result, "outputs": outs}
		allSucceeded = allSucceeded && o.result == "success"
		ancestorFailed = ancestorFailed || o.failed
	}
	r.mu.Unlock()

	base := r.baseContexts(j)
	base["needs"] = needs
	status := statusFuncs{
		success:   func() bool { return allSucceeded && ctx.Err() == nil },
		failure:   func() bool { return ancestorFailed },
		cancelled: func() bool { return ctx.Err() != nil },
	}
	outcome := &jobOutcome{result: "skipped", failed: ancestorFailed}
	defer func() {
		r.mu.Lock()
		r.results[j.ID] = outcome
		r.mu.Unlock()
	}()

	run, err := r.evalCondition(j.If, base, status, "")
	if err != nil {
		r.failJob(j, j.ID, err, outcome)
		return
	}
	if !run {
		r.addJob(&JobResult{Key: j.ID, JobID: j.ID, Name: r.jobName(j, base), Result: "skipped"})
		r.console.emit(event{Job: j.ID, Kind: "end", Status: "skipped"})
		return
	}

	combos := []workflow.Combo{{}}
	failFast, maxParallel := true, 0
	if s := j.Strategy; s != nil {
		if s.Matrix != nil {
			m, err := workflow.DecodeMatrix(s.Matrix, func(src string) (any, error) {
				return r.evalValue(workflow.Value{Raw: src, Set: true}, base, nil)
			})
			if err == nil {
				combos, err = m.Combos()
			}
			if err != nil {
				r.failJob(j, j.ID, fmt.Errorf("%s:%d:%d: matrix: %w", r.w.File, s.Line, s.Col, err), outcome)
				return
			}
		}
		if s.FailFast.Set {
			v, err := r.evalValue(s.FailFast, base, nil)
			if err != nil {
				r.failJob(j, j.ID, err, outcome)
				return
			}
			failFast = expr.Truthy(v)
		}
		if s.MaxParallel.Set {
			v, err := r.evalString(s.MaxParallel, base, nil)
			if err == nil {
				maxParallel, err = strconv.Atoi(strings.TrimSpace(v))
			}
			if err != nil {
				r.failJob(j, j.ID, fmt.Errorf("max-parallel: %w", err), outcome)
				return
			}
		}
	}
	if maxParallel <= 0 || maxParallel > len(combos) {
		maxParallel = len(combos)
	}

	legCtx, cancelLegs := context.WithCancel(ctx)
	defer cancelLegs()
	legSem := make(chan struct{}, maxParallel)
	results := make([]*JobResult, len(combos))
	var wg sync.WaitGroup
	for i, c := range combos {
		wg.Add(1)
		go func(i int, c workflow.Combo) {
			defer wg.Done()
			legSem <- struct{}{}
			defer func() { <-legSem }()
			leg := &jobRun{r: r, job: j, combo: c, needs: needs, parent: ctx}
			if j.Strategy != nil {
				leg.strategy = map[string]any{"fail-fast": failFast, "job-index": float64(i), "job-total": float64(len(combos)), "max-parallel": float64(maxParallel)}
			}
			res := leg.run(legCtx)
			results[i] = res
			if res.Result == "failure" && failFast {
				cancelLegs()
			}
		}(i, c)
	}
	wg.Wait()

	outcome.result = "success"
	outcome.outputs = map[string]string{}
	anyCancelled := false
	for _, res := range results {
		for k, v := range res.Outputs {
			outcome.outputs[k] = v
		}
		switch res.Result {
		case "failure":
			outcome.result = "failure"
		case "cancelled":
			anyCancelled = true
		}
	}
	if outcome.result != "failure" && anyCancelled {
		outcome.result = "cancelled"
	}
	outcome.failed = outcome.failed || outcome.result == "failure"
}

func (r *runState) failJob(j *workflow.Job, key string, err error, o *jobOutcome) {
	msg := r.masker.Mask(err.Error())
	r.addJob(&JobResult{Key: key, JobID: j.ID, Name: j.ID, Result: "failure", Error: msg})
	r.console.emit(event{Job: key, Kind: "line", Text: "Error: " + msg})
	r.console.emit(event{Job: key, Kind: "end", Status: "failure"})
	o.result, o.failed = "failure", true
}

func (r *runState) jobName(j *workflow.Job, ctxs map[string]any) string {
	if !j.Name.Set {
		return j.ID
	}
	name, err := r.evalString(j.Name, ctxs, nil)
	if err != nil {
		return j.ID
	}
	return name
}

// jobRun is one leg of a job: the job itself, or one matrix combination.
type jobRun struct {
	r        *runState
	job      *workflow.Job
	combo    workflow.Combo
	needs    map[string]any
	strategy map[string]any
	parent   context.Context // the run's context: cancelled() in steps

	key        string
	workspace  string
	temp       string
	log        *jobLog
	env        map[string]string // workflow + job env, then GITHUB_ENV additions
	envOrder   []string
	path       []string // GITHUB_PATH entries, newest first
	steps      map[string]any
	failed     bool
	trackingID string
	actions    []string // GITHUB_ACTION by step index
	madeFiles  bool
	filesEmpty bool // every command file exists and is empty
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (jr *jobRun) run(ctx context.Context) *JobResult {
	r, j := jr.r, jr.job
	r.sem <- struct{}{}
	defer func() { <-r.sem }()

	jr.key = j.ID + jr.combo.Suffix()
	res := &JobResult{Key: jr.key, JobID: j.ID, Started: time.Now(), Outputs: map[string]string{}}
	defer func() {
		res.Duration = time.Since(res.Started)
		r.addJob(res)
		r.console.emit(event{Job: jr.key, Kind: "end", Status: res.Result, Duration: res.Duration})
	}()
	fail := func(err error) *JobResult {
		res.Result, res.Error = "failure", r.masker.Mask(err.Error())
		r.console.emit(event{Job: jr.key, Kind: "line", Text: "Error: " + res.Error})
		jr.log.line("job", "Error: "+res.Error)
		return res
	}

	dir := filepath.Join(r.dir, "jobs", unsafeName.ReplaceAllString(jr.key, "_"))
	jr.workspace = filepath.Join(dir, "workspace")
	jr.temp = filepath.Join(dir, "temp")
	for _, d := range []string{jr.workspace, jr.temp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(err)
		}
	}
	defer os.RemoveAll(jr.temp)
	if !r.opts.KeepWorkspaces {
		defer os.RemoveAll(jr.workspace)
	}
	f, err := os.Create(filepath.Join(r.dir, unsafeName.ReplaceAllString(jr.key, "_")+".log"))
	if err != nil {
		return fail(err)
	}
	jr.log = &jobLog{f: f, masker: r.masker, start: time.Now()}
	defer jr.log.close()
	// Unique across processes and runs: run numbers repeat between state
	// directories, and a collision would kill another run's processes.
	jr.trackingID = fmt.Sprintf("runner_%s_%s", r.nonce, unsafeName.ReplaceAllString(jr.key, "_"))
	// Background processes a step left behind end with the job, as on GitHub.
	defer killTracked(jr.trackingID, r.opts.KillGrace)

	ctxs := jr.contexts()
	res.Name = r.jobName(j, ctxs) + jr.combo.Suffix()
	r.console.emit(event{Job: jr.key, Kind: "start", Text: res.Name})

	// Job-level concurrency inside one run: legs of one group take turns.
	if j.Concurrency != nil {
		group, err := r.evalString(j.Concurrency.Group, ctxs, nil)
		if err != nil {
			return fail(err)
		}
		r.mu.Lock()
		m := r.groups[group]
		if m == nil {
			m = &sync.Mutex{}
			r.groups[group] = m
		}
		r.mu.Unlock()
		m.Lock()
		defer m.Unlock()
	}

	timeout := 360 * time.Minute
	if j.TimeoutMinutes.Set {
		d, err := r.minutes(j.TimeoutMinutes, ctxs)
		if err != nil {
			return fail(err)
		}
		timeout = d
	}
	jobCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	jr.env = map[string]string{}
	for _, layer := range [][]workflow.KV{r.w.Env, j.Env} {
		for _, kv := range layer {
			v, err := r.evalString(kv.Value, jr.contexts(), nil)
			if err != nil {
				return fail(err)
			}
			jr.setEnv(kv.Key, v)
		}
	}
	jr.steps = map[string]any{}
	for _, s := range j.Steps {
		sr := jr.runStep(jobCtx, s)
		res.Steps = append(res.Steps, sr)
	}
	switch {
	case jr.failed && jobCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil:
		res.Result, res.Error = "failure", fmt.Sprintf("the job exceeded its timeout of %s", timeout)
	case ctx.Err() != nil:
		res.Result = "cancelled"
	case jr.failed:
		res.Result = "failure"
	default:
		res.Result = "success"
	}
	// Job outputs are evaluated at the end, with the steps context.
	ctxs = jr.contexts()
	for _, kv := range j.Outputs {
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
	if j.ContinueOnError.Set && res.Result == "failure" {
		if v, err := r.evalValue(j.ContinueOnError, ctxs, nil); err == nil && expr.Truthy(v) {
			res.Result = "success"
		}
	}
	return res
}

func (jr *jobRun) setEnv(k, v string) {
	if _, ok := jr.env[k]; !ok {
		jr.envOrder = append(jr.envOrder, k)
	}
	jr.env[k] = v
}

// emit prints a line for this job and stores it in the job log.
func (jr *jobRun) emit(step, text string) {
	jr.r.console.emit(event{Job: jr.key, Step: step, Kind: "line", Text: text})
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
