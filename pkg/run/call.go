package run

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/birdflock/runner/pkg/workflow"
)

// A job that calls a reusable workflow runs the callee's jobs as jobs of
// the run, once per leg of its matrix. Each leg is a frame: a runState of
// its own for the callee (its workflow, typed inputs and mapped secrets,
// its own needs), sharing the run's scheduler, logs, masker and records
// with the top-level one. The caller's leg ends when every job of its
// frame has ended; its result and outputs are then the callee's.

// frame is what a called workflow's runState knows of its caller.
type frame struct {
	caller  *scheduledJob // the calling job, in the parent runState
	leg     int           // which of its legs
	parent  *runState
	key     string // the caller leg's key: callee job keys start with it
	name    string // the caller leg's name, as GitHub shows it
	pending int    // callee jobs not ended yet
	source  []byte // the callee's file (Called.Source), for remote legs
}

// top is the run's top-level runState, which holds the records, the
// scheduler's jobs and the keys given out.
func (r *runState) top() *runState {
	if r.root != nil {
		return r.root
	}
	return r
}

// jobKey is job j's key in the run: its id, after the caller's key in a
// called workflow ("call / build").
func (r *runState) jobKey(j *workflow.Job) string {
	if r.frame == nil {
		return j.ID
	}
	return r.frame.key + " / " + j.ID
}

// jobID is JobResult.JobID: the job's id, or for a called job the path of
// ids from the top-level caller ("call/build"), which no top-level job
// can have (serve's re-runs key earlier results by it).
func (r *runState) jobID(j *workflow.Job) string {
	if r.frame == nil {
		return j.ID
	}
	return r.frame.parent.jobID(r.frame.caller.job) + "/" + j.ID
}

// sortKey orders a record: the caller's place, then the job's declaration
// order and leg.
func (r *runState) sortKey(jr *JobResult) []int {
	idx := len(r.w.Jobs)
	for i, j := range r.w.Jobs {
		if r.jobID(j) == jr.JobID {
			idx = i
		}
	}
	return append(r.framePlace(), idx, jr.order[1])
}

// framePlace is where a called workflow's jobs sort: at their caller's
// leg; nil at the top.
func (r *runState) framePlace() []int {
	if f := r.frame; f != nil {
		return append(f.parent.framePlace(), f.caller.index, f.leg)
	}
	return nil
}

// startCalls starts the legs of a job that calls a reusable workflow,
// max-parallel at a time: each evaluates with: and secrets: in its own
// matrix and adds the callee's jobs to the run.
func (r *runState) startCalls(js *scheduledJob, st jobStrategy, needs map[string]any) {
	j := js.job
	called := r.calls[j]
	if j.Concurrency != nil {
		r.obs.emit(Event{Job: r.jobKey(j), Kind: Line, Text: "Warning: concurrency on a job that calls a reusable workflow is not applied by runner"})
	}
	legs := make([]func(), len(st.combos))
	for i, c := range st.combos {
		legs[i] = func() {
			ctxs := r.baseContexts(j)
			ctxs["needs"] = needs
			ctxs["matrix"] = c.Context()
			if j.Strategy != nil {
				ctxs["strategy"] = map[string]any{"fail-fast": st.failFast, "job-index": float64(i), "job-total": float64(len(st.combos)), "max-parallel": float64(st.maxParallel)}
			}
			key := r.top().claimKey(r.jobKey(j)+c.Suffix(), i)
			name := r.jobName(j, ctxs) + c.Suffix()
			end := func(res *JobResult, text string) {
				r.addJob(res)
				if text != "" {
					r.obs.emit(Event{Job: key, Kind: Line, Text: text})
				}
				r.obs.emit(Event{Job: key, Kind: JobEnded, Status: res.Result, Leg: i})
				r.legEnded(js, i, res)
				r.nextCall(js)
			}
			res := &JobResult{Key: key, JobID: r.jobID(j), Name: name, Outputs: map[string]string{}, order: [2]int{js.index, i}}
			fail := func(err error) {
				res.Result, res.Error = "failure", r.masker.Mask(err.Error())
				end(res, "Error: "+res.Error)
			}
			if js.legCtx.Err() != nil {
				// Cancelled (fail-fast or the run) before it started.
				res.Result = "cancelled"
				end(res, "")
				return
			}
			if called == nil {
				fail(fmt.Errorf("%s:%d:%d: %s was not loaded", r.w.File, j.Call.Uses.Line, j.Call.Uses.Col, j.Call.Uses.Raw))
				return
			}
			secrets, err := r.callSecrets(j.Call, called.Workflow, ctxs)
			if err != nil {
				fail(err)
				return
			}
			inputs, err := r.callInputs(j.Call, called.Workflow, ctxs)
			if err != nil {
				fail(err)
				return
			}
			r.startFrame(js, i, called, key, name, inputs, secrets)
		}
	}
	js.waiting = legs[st.maxParallel:]
	for _, start := range legs[:st.maxParallel] {
		start()
	}
}

// nextCall starts the next waiting leg of a calling job, when one ended.
func (r *runState) nextCall(js *scheduledJob) {
	if len(js.waiting) == 0 {
		return
	}
	start := js.waiting[0]
	js.waiting = js.waiting[1:]
	start()
}

// startFrame adds the jobs of one call of a reusable workflow to the run.
func (r *runState) startFrame(js *scheduledJob, leg int, called *Called, key, name string, inputs map[string]any, secrets map[string]string) {
	opts := r.opts
	opts.Secrets = secrets
	opts.Reuse = nil
	plan := *r.plan
	plan.Inputs = inputs
	root := r.top()
	c := &runState{
		w: called.Workflow, opts: opts, id: r.id, dir: r.dir, state: r.state, repo: r.repo,
		plan: &plan, title: r.title, masker: r.masker, obs: r.obs, scope: r.scope, base: r.base, basePath: r.basePath,
		results: map[string]*neededJob{}, started: r.started, nonce: r.nonce,
		root: root, calls: called.Calls, ctx: js.legCtx,
		frame: &frame{caller: js, leg: leg, parent: r, key: key, name: name, pending: len(called.Workflow.Jobs), source: called.Source},
		byID:  map[string]*scheduledJob{},
	}
	for i, j := range called.Workflow.Jobs {
		cj := &scheduledJob{job: j, index: i, r: c}
		c.byID[j.ID] = cj
		root.states = append(root.states, cj)
	}
}

// frameEnded ends the caller's leg when the last job of its frame ends:
// its result is the callee jobs' combined result, its outputs the
// callee's on.workflow_call outputs.
func (r *runState) frameEnded() {
	f := r.frame
	f.pending--
	if f.pending > 0 {
		return
	}
	res := &JobResult{Key: f.key, JobID: f.parent.jobID(f.caller.job), Name: f.name, Result: "success", Outputs: map[string]string{}, order: [2]int{f.caller.index, f.leg}}
	jobs := map[string]any{}
	anyCancelled := false
	r.mu.Lock()
	for id, o := range r.results {
		jobs[id] = map[string]any{"result": o.result, "outputs": stringMap(o.outputs)}
		switch o.result {
		case "failure":
			res.Result = "failure"
		case "cancelled":
			anyCancelled = true
		}
	}
	r.mu.Unlock()
	if res.Result != "failure" && anyCancelled {
		res.Result = "cancelled"
	}
	if wc := r.w.On.Call; wc != nil {
		ctxs := map[string]any{"github": r.githubContext("", ""), "inputs": r.plan.Inputs, "vars": stringMap(r.plan.Vars), "jobs": jobs}
		for _, kv := range wc.Outputs {
			v, err := r.evalString(kv.Value, ctxs, nil)
			if err != nil {
				r.obs.emit(Event{Job: f.key, Kind: Line, Text: "Warning: output " + kv.Key + ": " + r.masker.Mask(err.Error())})
				continue
			}
			if r.masker.Mask(v) != v {
				r.obs.emit(Event{Job: f.key, Kind: Line, Text: "Warning: Skip output '" + kv.Key + "' since it may contain secret."})
				continue
			}
			res.Outputs[kv.Key] = v
		}
	}
	f.parent.legEnded(f.caller, f.leg, res)
	f.parent.nextCall(f.caller)
}

// callSecrets are the callee's secrets: those secrets: maps (evaluated
// with the caller's contexts), or all of the caller's with inherit;
// GITHUB_TOKEN always.
func (r *runState) callSecrets(c *workflow.Call, callee *workflow.Workflow, ctxs map[string]any) (map[string]string, error) {
	out := map[string]string{}
	if c.Inherit {
		maps.Copy(out, r.opts.Secrets)
	}
	for _, kv := range c.Secrets {
		v, err := r.evalString(kv.Value, ctxs, nil)
		if err != nil {
			return nil, err
		}
		name := kv.Key
		if wc := callee.On.Call; wc != nil {
			if s := wc.Secret(kv.Key); s != nil {
				name = s.Name
			}
		}
		out[name] = v
		r.masker.Add(v)
	}
	if t, ok := r.opts.Secrets["GITHUB_TOKEN"]; ok {
		out["GITHUB_TOKEN"] = t
	}
	return out, nil
}

// callInputs are the callee's inputs context: with: evaluated with the
// caller's contexts, defaults for the rest, each of its declared type.
func (r *runState) callInputs(c *workflow.Call, callee *workflow.Workflow, ctxs map[string]any) (map[string]any, error) {
	wc := callee.On.Call
	if wc == nil {
		wc = &workflow.WorkflowCall{}
	}
	given := map[string]any{}
	for _, kv := range c.With {
		in := wc.Input(kv.Key)
		if in == nil {
			return nil, fmt.Errorf("%s:%d:%d: invalid input %q: it is not defined in %s", r.w.File, kv.KeyPos.Line, kv.KeyPos.Col, kv.Key, c.Uses.Raw)
		}
		var v any = kv.Value.Raw
		if strings.Contains(kv.Value.Raw, "${{") {
			var err error
			if v, err = r.evalValue(kv.Value, ctxs, nil); err != nil {
				return nil, err
			}
		}
		t, err := workflow.TypeCallInput(in, v)
		if err != nil {
			return nil, fmt.Errorf("%s:%d:%d: %w", r.w.File, kv.Value.Line, kv.Value.Col, err)
		}
		given[in.Name] = t
	}
	return typedCallInputs(wc, given, func(v workflow.Value) (any, error) {
		// Defaults are evaluated in the callee, with the github context.
		return evalCallDefault(callee.File, v, ctxs["github"])
	})
}

// typedCallInputs fills in what given lacks: defaults, else the type's
// zero value; a required input not given is an error.
func typedCallInputs(wc *workflow.WorkflowCall, given map[string]any, eval func(workflow.Value) (any, error)) (map[string]any, error) {
	out := map[string]any{}
	var problems []string
	for _, in := range wc.Inputs {
		if v, ok := given[in.Name]; ok {
			out[in.Name] = v
			continue
		}
		if in.Required {
			problems = append(problems, fmt.Sprintf("input %q is required", in.Name))
			continue
		}
		var v any
		switch in.Type {
		case "boolean":
			v = false
		case "number":
			v = float64(0)
		default:
			v = ""
		}
		if in.Default.Set {
			var err error
			if v, err = eval(in.Default); err == nil {
				v, err = workflow.TypeCallInput(in, v)
			}
			if err != nil {
				return nil, err
			}
		}
		out[in.Name] = v
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("%w: %s", ErrInputs, strings.Join(problems, "; "))
	}
	return out, nil
}

func evalCallDefault(file string, v workflow.Value, github any) (any, error) {
	if !strings.Contains(v.Raw, "${{") {
		return v.Raw, nil
	}
	r := &runState{w: &workflow.Workflow{File: file}}
	return r.evalValue(v, map[string]any{"github": github}, nil)
}

// resolveCallInputs types the inputs of a run started by workflow_call
// itself (runner exec of a reusable workflow): given as strings, checked
// against on.workflow_call.
func resolveCallInputs(w *workflow.Workflow, given map[string]string, github map[string]any) (map[string]any, error) {
	wc := w.On.Call
	if wc == nil {
		return nil, fmt.Errorf("%w: workflow %s has no workflow_call trigger", ErrInputs, w.File)
	}
	typed := map[string]any{}
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(given)) {
		in := wc.Input(k)
		if in == nil {
			problems = append(problems, fmt.Sprintf("unknown input %q", k))
			continue
		}
		v, err := workflow.TypeCallInput(in, given[k])
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		typed[in.Name] = v
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInputs, strings.Join(problems, "; "))
	}
	return typedCallInputs(wc, typed, func(v workflow.Value) (any, error) { return evalCallDefault(w.File, v, github) })
}
