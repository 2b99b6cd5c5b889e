package run

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// Trigger is what starts a run: the event and its payload, the repository
// and commit, dispatch inputs and configuration variables.
type Trigger struct {
	Event   string            // github.event_name; default "push"
	Payload map[string]any    // github.event; default: a minimal payload for Event
	Inputs  map[string]string // workflow_dispatch inputs, checked against the workflow
	Vars    map[string]string // the vars context
	// Env is environment for every job, under the workflow's env (act's
	// --env-file). Default none.
	Env map[string]string
	// Matrix keeps only the matrix legs whose value of each key named here
	// is one of the values given (act's --matrix key:value); legs without
	// that key are kept. Default: every leg.
	Matrix map[string][]string
	Repo   Repo // the repository and commit the run is for
	// ID is the run's record number: its directory STATE/runs/<ID>. 0: the
	// next free number under the state dir, given when the run starts.
	ID int
	// RunID is github.run_id and run_number (GITHUB_RUN_ID): one workflow
	// run's id, shared by its attempts. 0: ID.
	RunID int
	// Attempt is github.run_attempt (GITHUB_RUN_ATTEMPT). 0: 1.
	Attempt int
}

// Plan is a run resolved before it starts: the workflow and its trigger
// with every default filled in and the dispatch inputs checked and typed.
// runner exec and runner serve make one with NewPlan; what reads the
// workflow-level contexts (run-name, the concurrency group) is evaluated
// from it, the same way for both; Run executes it. A Plan holds no secrets.
type Plan struct {
	Workflow *workflow.Workflow
	Event    string
	Payload  map[string]any // github.event, with the defaults GitHub gives
	Inputs   map[string]any // the inputs context: typed, defaults applied
	Vars     map[string]string
	Env      map[string]string   // under the workflow's env
	Matrix   map[string][]string // legs kept (see Trigger.Matrix)
	Repo     Repo
	ID       int // the record number (see Trigger.ID)
	RunID    int // github.run_id; 0: ID
	Attempt  int // github.run_attempt; 0: 1
	// Source is the workflow file's bytes, for legs that run elsewhere
	// (Options.Remote), which parse the same file. Default: read from
	// Workflow.File when a remote leg needs it.
	Source []byte
	// caller, in a remote leg of a called workflow (Workflow is the
	// callee), is the calling workflow's name and file: the github
	// context is the caller's, as on GitHub.
	caller *legCaller
}

// NewPlan resolves a run of w started by t. Inputs that do not fit the
// workflow are an ErrInputs error.
func NewPlan(w *workflow.Workflow, t Trigger) (*Plan, error) {
	p := &Plan{Workflow: w, Event: t.Event, Vars: t.Vars, Env: t.Env, Matrix: t.Matrix, Repo: t.Repo, ID: t.ID, RunID: t.RunID, Attempt: t.Attempt}
	if p.Event == "" {
		p.Event = "push"
	}
	given := t.Inputs
	if p.Event == "workflow_dispatch" {
		given = withPayloadInputs(given, t.Payload)
	}
	var err error
	if p.Inputs, err = resolveInputs(w, p.Event, given); err != nil {
		return nil, err
	}
	p.Payload = t.Payload
	if p.Payload == nil {
		p.Payload = p.defaultPayload()
	} else if p.Event == "workflow_dispatch" {
		given, _ := p.Payload["inputs"].(map[string]any)
		p.Payload = shallowCopy(p.Payload)
		p.Payload["inputs"] = eventInputs(given, p.Inputs)
	}
	return p, nil
}

// WorkflowName is github.workflow: the workflow's name, else its file.
func (p *Plan) WorkflowName() string {
	if p.caller != nil {
		return p.caller.Name
	}
	if p.Workflow.Name.Set {
		return p.Workflow.Name.Raw
	}
	return p.Workflow.File
}

// RunContext is the github context of the plan at workflow level.
func (p *Plan) RunContext() RunContext {
	id, attempt := p.RunID, p.Attempt
	if id == 0 {
		id = p.ID
	}
	if attempt == 0 {
		attempt = 1
	}
	file := p.Workflow.File
	if p.caller != nil {
		file = p.caller.File
	}
	return RunContext{ID: id, Attempt: attempt, Event: p.Event, Payload: p.Payload, Repo: p.Repo, Workflow: p.WorkflowName(), File: file}
}

// contexts are what workflow-level expressions see: github, inputs, vars.
func (p *Plan) contexts() map[string]any {
	return map[string]any{"github": p.RunContext().GitHub(), "inputs": p.Inputs, "vars": stringMap(p.Vars)}
}

// Title is the run's title: run-name evaluated, else the workflow's name.
func (p *Plan) Title() (string, error) {
	if !p.Workflow.RunName.Set {
		return p.WorkflowName(), nil
	}
	v := p.Workflow.RunName
	title, err := evalTemplate(v, p.contexts())
	if err != nil {
		return p.WorkflowName(), fmt.Errorf("%s:%d:%d: run-name: %w", p.Workflow.File, v.Line, v.Col, err)
	}
	return title, nil
}

// Concurrency evaluates the workflow's concurrency group and
// cancel-in-progress; group is "" when the workflow has none.
func (p *Plan) Concurrency() (group string, cancelInProgress bool, err error) {
	w := p.Workflow
	c := w.Concurrency
	if c == nil || !c.Group.Set {
		return "", false, nil
	}
	ctxs := p.contexts()
	if group, err = evalTemplate(c.Group, ctxs); err != nil {
		return "", false, fmt.Errorf("%s:%d:%d: concurrency group: %w", w.File, c.Group.Line, c.Group.Col, err)
	}
	if !c.CancelInProgress.Set {
		return group, false, nil
	}
	v, err := evalTemplate(c.CancelInProgress, ctxs)
	if err != nil {
		return "", false, fmt.Errorf("%s:%d:%d: cancel-in-progress: %w", w.File, c.CancelInProgress.Line, c.CancelInProgress.Col, err)
	}
	return group, v == "true", nil
}

// evalTemplate evaluates a string with ${{ }} expressions in ctxs.
func evalTemplate(v workflow.Value, ctxs map[string]any) (string, error) {
	t, err := expr.ParseTemplate(v.Raw)
	if err != nil {
		return "", err
	}
	return t.EvalString(&expr.Env{Contexts: ctxs})
}

// resolveInputs checks dispatch inputs against the workflow and types
// them (boolean, number, string); defaults fill in what is not given.
func resolveInputs(w *workflow.Workflow, event string, given map[string]string) (map[string]any, error) {
	out := map[string]any{}
	if event == "workflow_call" { // runner exec of a reusable workflow
		return resolveCallInputs(w, given, nil)
	}
	if event != "workflow_dispatch" {
		if len(given) > 0 {
			return nil, fmt.Errorf("%w: inputs are only for event workflow_dispatch, not %s", ErrInputs, event)
		}
		return out, nil
	}
	if w.On.Dispatch == nil {
		return nil, fmt.Errorf("%w: workflow %s has no workflow_dispatch trigger", ErrInputs, w.File)
	}
	known := map[string]bool{}
	var problems []string
	for _, d := range w.On.Dispatch.Inputs {
		known[d.Name] = true
		v, ok := given[d.Name]
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
	for k := range given {
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

// withPayloadInputs adds a workflow_dispatch payload's inputs (GitHub's
// github.event.inputs, all strings there) to the inputs given, which win.
func withPayloadInputs(given map[string]string, payload map[string]any) map[string]string {
	in, _ := payload["inputs"].(map[string]any)
	if len(in) == 0 {
		return given
	}
	out := map[string]string{}
	for k, v := range in {
		switch x := v.(type) {
		case string:
			out[k] = x
		case bool:
			out[k] = strconv.FormatBool(x)
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	for k, v := range given {
		out[k] = v
	}
	return out
}

// keepLeg reports whether a matrix leg passes the plan's Matrix filter.
func (p *Plan) keepLeg(c workflow.Combo) bool {
	for key, want := range p.Matrix {
		v, ok := c.Values[key]
		if !ok {
			continue
		}
		s := fmt.Sprint(v)
		if f, isNum := v.(float64); isNum {
			s = strconv.FormatFloat(f, 'f', -1, 64)
		}
		if !slices.Contains(want, s) {
			return false
		}
	}
	return true
}
