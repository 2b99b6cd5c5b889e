package run

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// compositeMaxDepth is how deeply composite actions may nest: the steps of
// the composite a job step uses are at depth 1, and GitHub's runner refuses
// steps deeper than 9 (Constants.CompositeActionsMaxDepth).
const compositeMaxDepth = 9

// compositeScope is a composite action while its steps run: what its steps'
// expressions see instead of the job's (inputs, a steps context of their
// own, github.action*), and the action's own status.
type compositeScope struct {
	parent *compositeScope // the composite whose step uses this one; nil: a job step does
	act    *actions.Action
	depth  int
	// uses is the calling step's uses: value and place, for errors.
	uses    string
	usesPos string
	// logName is the job step the action's output belongs to (nested
	// composites log into the job step that started the chain).
	logName string
	inputs  map[string]any
	steps   *expr.Object
	// env is what the calling step's env: block set (with what the env:
	// blocks of the steps that called it set, for a nested action): on
	// GitHub it stomps over the job's env in every inner step, so a
	// GITHUB_ENV line inside the action reaches the later inner steps for
	// every other name (actions/runner#1794). startEnv is the calling
	// step's whole env, which the action's outputs see.
	env, startEnv map[string]string
	// names is github.action (GITHUB_ACTION) by inner step index: the id,
	// else __run / __owner_repo numbered within the action.
	names []string
	// repo and ref are github.action_repository / action_ref of a remote
	// action ("" for ./path ones).
	repo, ref string
	// failed is GitHub's action_status: an inner step failed (after
	// continue-on-error). success() and failure() inside read it.
	failed bool
}

// fileKey is the hidden entry of an inner step's contexts that names the
// file its expressions come from (action.yml), so evaluation errors point
// into it. No expression can name it.
const fileKey = "\x00file"

// runComposite runs a composite action's steps as GitHub does: each with
// its if:, env, working-directory, shell, continue-on-error and id; their
// steps context is the action's own; output lines go to the calling step's
// log; the first failure fails the action, and later steps then run only
// if their condition asks for it (always(), failure()). The action's
// outputs (value: expressions) become the calling step's outputs.
func (jr *legRun) runComposite(ctx context.Context, st *stepRun, act *actions.Action, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	s := st.s
	sc := &compositeScope{
		parent: jr.scope, act: act, depth: 1,
		uses:     s.Uses.Raw,
		usesPos:  fmt.Sprintf("%s:%d:%d", jr.file(), s.Uses.Line, s.Uses.Col),
		logName:  st.sr.Name,
		steps:    expr.NewObject(),
		env:      st.own,
		startEnv: env,
		names:    actionNames(act.Meta.Runs.Steps),
	}
	if jr.scope != nil {
		sc.depth = jr.scope.depth + 1
		sc.logName = jr.scope.logName
	}
	if err := sc.checkNesting(); err != nil {
		return err
	}
	if !act.Ref.Local && !act.Ref.IsDocker() {
		sc.repo, sc.ref = act.Ref.Owner+"/"+act.Ref.Repo, act.Ref.Version
	}
	inputs, err := jr.actionInputs(st, act)
	if err != nil {
		return err
	}
	sc.inputs = stringMap(inputs)

	outer, outerSteps := jr.scope, jr.steps
	jr.scope, jr.steps = sc, sc.steps
	failedStep := ""
	for i, inner := range act.Meta.Runs.Steps {
		if ctx.Err() != nil {
			break // the calling step timed out or the job was cancelled
		}
		name, conclusion := jr.runCompositeStep(ctx, sc, i, inner)
		if conclusion == "failure" && failedStep == "" {
			failedStep = name
		}
	}
	// What the last inner step wrote to the command files is applied;
	// emptied, the calling step does not apply it a second time.
	_, ferr := jr.fileCommands(0)
	outs, oerr := jr.compositeOutputs(sc)
	jr.scope, jr.steps = outer, outerSteps
	for _, kv := range outs {
		jr.setOutput(s, kv[0], kv[1])
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case sc.failed:
		return fmt.Errorf("%s: step %q of the action failed", s.Uses.Raw, failedStep)
	case oerr != nil:
		return oerr
	}
	return ferr
}

// checkNesting refuses a composite that uses itself, directly or through
// others, and one nested deeper than GitHub allows, naming the chain.
func (sc *compositeScope) checkNesting() error {
	var chain []string
	cycle := false
	for p := sc; p != nil; p = p.parent {
		chain = append([]string{p.uses}, chain...)
		if p != sc && p.act.Dir == sc.act.Dir {
			cycle = true
			break
		}
	}
	switch {
	case cycle:
		return fmt.Errorf("%s: composite action %s uses itself: %s", sc.usesPos, sc.uses, strings.Join(chain, " → "))
	case sc.depth > compositeMaxDepth:
		return fmt.Errorf("%s: composite action depth exceeded max depth %d: %s", sc.usesPos, compositeMaxDepth, strings.Join(chain, " → "))
	}
	return nil
}

// runCompositeStep runs the i-th step of a composite action, prints why
// it failed, and records its outcome and conclusion (after
// continue-on-error) in the action's steps context.
func (jr *legRun) runCompositeStep(ctx context.Context, sc *compositeScope, i int, s *workflow.Step) (name, conclusion string) {
	r := jr.r
	ctxs := sc.contexts(jr, i)
	name = s.DisplayName()
	if s.Name.Set {
		if n, err := r.evalString(s.Name, ctxs, nil); err == nil {
			name = n
		}
	}
	finish := func(outcome string, err error) (string, string) {
		conclusion := outcome
		if err != nil && outcome != "cancelled" {
			jr.emit(sc.logName, "Error: "+r.masker.Mask(err.Error()))
		}
		if outcome == "failure" && s.ContinueOnError.Set {
			if v, e := r.evalValue(s.ContinueOnError, ctxs, nil); e == nil && expr.Truthy(v) {
				conclusion = "success"
			}
		}
		if conclusion == "failure" {
			sc.failed = true
		}
		if s.ID.Set {
			e := jr.stepEntry(s.ID.Raw)
			e.Set("outcome", outcome)
			e.Set("conclusion", conclusion)
		}
		return name, conclusion
	}
	status := statusFuncs{
		success:   func() bool { return !sc.failed },
		failure:   func() bool { return sc.failed },
		cancelled: func() bool { return jr.cancelled },
	}
	// As GitHub's runner, the step's env: is evaluated first, so its
	// if: sees it in the env context.
	env, own, err := sc.stepEnv(jr, s, ctxs)
	if err != nil {
		return finish("failure", err)
	}
	ok, err := r.evalCondition(s.If, ctxs, status, jr.workspace)
	if err != nil {
		return finish("failure", err)
	}
	if !ok {
		return finish("skipped", nil)
	}
	files, err := jr.fileCommands(0)
	if err != nil {
		return finish("failure", err)
	}
	jr.emit(sc.logName, "▸ "+name)
	out, cmdErr := jr.stepOutput(sc.logName, s.ID.Raw, env["ACTIONS_ALLOW_UNSECURE_COMMANDS"] == "true")
	if s.Uses.Set {
		g := ctxs["github"].(map[string]any)
		g["action_repository"], g["action_ref"] = "", ""
		if ref, perr := workflow.ParseActionRef(s.Uses.Raw); perr == nil && !ref.Local && !ref.IsDocker() {
			g["action_repository"], g["action_ref"] = ref.Owner+"/"+ref.Repo, ref.Version
		}
		inner := &stepRun{jr: jr, s: s, sr: &StepResult{ID: s.ID.Raw, Name: sc.logName}, started: time.Now(), ctxs: ctxs, own: own}
		err = jr.runUses(ctx, inner, env, files, out)
	} else {
		// GitHub's runner clears action_repository and action_ref for a
		// run step (actions/runner#2473): env: saw them, run: does not.
		g := ctxs["github"].(map[string]any)
		g["action_repository"], g["action_ref"] = "", ""
		err = jr.runScript(ctx, s, ctxs, env, files, out)
	}
	err = jr.afterStep(s, files, out, cmdErr, err)
	switch {
	case err == nil:
		return finish("success", nil)
	case ctx.Err() != nil:
		// The calling step's timeout or the job's cancellation: the
		// calling step reports it.
		return finish("cancelled", err)
	}
	return finish("failure", err)
}

// contexts are the contexts of the i-th inner step: the job's, with the
// action's inputs, its own steps context and github.action*; secrets, vars
// and needs are not available in a composite action on GitHub.
func (sc *compositeScope) contexts(jr *legRun, i int) map[string]any {
	ctxs := jr.contexts()
	delete(ctxs, "secrets")
	delete(ctxs, "vars")
	delete(ctxs, "needs")
	g := ctxs["github"].(map[string]any) // a fresh map on each call
	g["action"] = sc.names[i]
	g["action_path"] = sc.act.Dir
	g["action_repository"], g["action_ref"] = sc.repo, sc.ref
	g["action_status"] = "success"
	if sc.failed {
		g["action_status"] = "failure"
	}
	ctxs["inputs"] = sc.inputs
	ctxs["steps"] = sc.steps
	ctxs[fileKey] = sc.act.Meta.File
	return ctxs
}

// stepEnv is an inner step's env, GitHub's way: the job's env (with what
// GITHUB_ENV wrote so far, also inside the action), what the calling
// step's env: set over it, then the inner step's env: block; the env
// context of its other expressions is the same. own is what the env:
// blocks set, for an action the inner step uses.
func (sc *compositeScope) stepEnv(jr *legRun, s *workflow.Step, ctxs map[string]any) (env, own map[string]string, err error) {
	env = make(map[string]string, len(jr.env)+len(sc.env)+len(s.Env))
	own = make(map[string]string, len(sc.env)+len(s.Env))
	for k, v := range jr.env {
		env[k] = v
	}
	for k, v := range sc.env {
		env[k] = v
		own[k] = v
	}
	ctxs["env"] = stringMap(env)
	entries, err := jr.r.envEntries(s.Env, ctxs) // GitHub's template forms too
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		env[e[0]] = e[1]
		own[e[0]] = e[1]
	}
	ctxs["env"] = stringMap(env)
	return env, own, nil
}

// compositeOutputs evaluates the action's outputs.<name>.value with the
// action's contexts after its steps (GitHub does so also after a failure).
func (jr *legRun) compositeOutputs(sc *compositeScope) ([][2]string, error) {
	if len(sc.act.Meta.Outputs) == 0 {
		return nil, nil
	}
	ctxs := jr.contexts()
	delete(ctxs, "secrets")
	delete(ctxs, "vars")
	delete(ctxs, "needs")
	ctxs["inputs"] = sc.inputs
	ctxs["steps"] = sc.steps
	ctxs[fileKey] = sc.act.Meta.File
	ctxs["env"] = stringMap(sc.startEnv)
	var outs [][2]string
	var errs []error
	for _, o := range sc.act.Meta.Outputs {
		v, err := jr.r.evalString(o.Value, ctxs, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("outputs.%s.value: %w", o.Name, err))
			continue
		}
		outs = append(outs, [2]string{o.Name, v})
	}
	return outs, errors.Join(errs...)
}

// file is the file the running step comes from: the workflow, or the
// action.yml of the composite action whose step it is.
func (jr *legRun) file() string {
	if jr.scope != nil {
		return jr.scope.act.Meta.File
	}
	return jr.r.w.File
}

// actionName is GITHUB_ACTION for step s: its id, else a generated name,
// numbered within the job or, inside a composite action, within the action.
func (jr *legRun) actionName(s *workflow.Step) string {
	if jr.scope != nil {
		return jr.scope.names[s.Index]
	}
	if jr.actions == nil {
		jr.actions = actionNames(jr.job.Steps)
	}
	return jr.actions[s.Index]
}

// scopeEnv is what a composite action's run step s gets on top of
// GitHub's default variables: GITHUB_ACTION_PATH (github.action_path).
// Inputs are not INPUT_* variables there, as on GitHub: steps read
// ${{ inputs.x }}. An action an inner step uses sets its own.
func (jr *legRun) scopeEnv(s *workflow.Step, env map[string]string) {
	if jr.scope != nil && !s.Uses.Set {
		env["GITHUB_ACTION_PATH"] = jr.scope.act.Dir
	}
}
