package run

import (
	"context"
	"fmt"
	"time"

	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// postCancelTimeout bounds the post steps of a job that exceeded its
// timeout: GitHub's cancel-timeout-minutes default, the time a cancelled
// job's cleanup gets.
const postCancelTimeout = 5 * time.Minute

// runPre runs the pre scripts of the job's JavaScript actions before its
// first step, in step order, each as a step "Pre NAME" under its pre-if
// (default always()), as GitHub's "Set up job" does. A ./path action has
// no pre: it is not in the workspace before the job's steps run (runNode
// warns, as GitHub).
func (jr *legRun) runPre(jobCtx context.Context) []*StepResult {
	var out []*StepResult
	for _, s := range jr.job.Steps {
		if !s.Uses.Set {
			continue
		}
		if b := jr.r.opts.Builtins; b != nil {
			if _, ok := b.Lookup(s.Uses.Raw); ok {
				continue
			}
		}
		ref, err := workflow.ParseActionRef(s.Uses.Raw)
		if err != nil || ref.Local || ref.IsDocker() {
			continue
		}
		// An action that does not resolve fails its own step (or the
		// job's set-up) with the error.
		act, err := jr.action(jobCtx, s)
		if err != nil {
			continue
		}
		if runs := act.Meta.Runs; !(runs.IsNode() && runs.Pre.Set || runs.IsDocker() && runs.PreEntrypoint.Set) {
			continue
		}
		out = append(out, jr.runStage(jobCtx, &jsStage{s: s, act: act, stage: "pre"}))
	}
	return out
}

// runPost runs the post scripts registered by the job's JavaScript
// actions, newest first, each as a step "Post NAME" under its post-if
// (default always()), also after a failure or a cancellation. They are
// bounded by the job's timeout (postCancelTimeout when it has passed
// already); a cancellation of the run does not stop them, only
// Options.Force does, as for the steps that run after a cancellation.
func (jr *legRun) runPost(jobCtx context.Context) []*StepResult {
	var out []*StepResult
	for i := len(jr.js.post) - 1; i >= 0; i-- {
		if jobCtx.Err() != nil {
			jr.cancelled = true
		}
		ctx, stop := postContext(jobCtx, jr.r.opts.Force)
		out = append(out, jr.runStage(ctx, jr.js.post[i]))
		stop()
	}
	return out
}

// postContext is the context of one post step: Force, until the job's
// deadline.
func postContext(jobCtx, force context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := jobCtx.Deadline()
	if !ok {
		return context.WithCancel(force)
	}
	if jobCtx.Err() == context.DeadlineExceeded {
		deadline = time.Now().Add(postCancelTimeout)
	}
	return context.WithDeadline(force, deadline)
}

// runStage runs the pre or post stage of an action step as a step of its
// own. The stage does not change the main step's entry in the steps
// context, and has neither its timeout-minutes nor its if.
func (jr *legRun) runStage(ctx context.Context, p *jsStage) *StepResult {
	r := jr.r
	s := *p.s
	s.ID, s.TimeoutMinutes, s.If = workflow.Value{}, workflow.Value{}, workflow.Value{}
	prefix, cond, condKey := "Pre ", p.act.Meta.Runs.PreIf, "pre-if"
	if p.stage == "post" {
		prefix, cond, condKey = "Post ", p.act.Meta.Runs.PostIf, "post-if"
	}
	if p.stage == "pre" && ctx.Err() != nil {
		jr.cancelled = true
	}
	st := &stepRun{jr: jr, s: &s, sr: &StepResult{Name: s.DisplayName()}, started: time.Now(), ctxs: jr.contexts()}
	if s.Name.Set {
		if name, err := r.evalString(s.Name, st.ctxs, nil); err == nil {
			st.sr.Name = name
		}
	}
	st.sr.Name = prefix + st.sr.Name
	setActionContext(st.ctxs, p.act)
	status := statusFuncs{
		success:   func() bool { return jr.status() == "success" },
		failure:   func() bool { return jr.status() == "failure" },
		cancelled: func() bool { return jr.status() == "cancelled" },
	}
	src := cond.Raw
	if !cond.Set {
		src = "always()"
	}
	ok, err := jr.stageCondition(src, st.ctxs, status)
	if err != nil {
		return st.finish("failure", fmt.Errorf("%s:%d:%d: runs.%s: %w", p.act.Meta.File, cond.Line, cond.Col, condKey, err))
	}
	if !ok {
		return st.finish("skipped", nil)
	}
	st.run = func(ctx context.Context, env map[string]string, fc fileCommandSet, out *lineWriter) error {
		if p.inputs == nil {
			var err error
			if p.inputs, err = jr.actionInputs(st, p.act); err != nil {
				return err
			}
		}
		if p.act.Meta.Runs.IsDocker() {
			return jr.runDockerStage(ctx, st, p, env, fc, out)
		}
		return jr.runNodeScript(ctx, st, p, env, fc, out)
	}
	r.obs.emit(Event{Job: jr.key, Step: st.sr.Name, Kind: StepStarted})
	afterCancel := p.stage == "pre" && jr.cancelled
	env, err := st.env()
	if err != nil {
		return st.finish("failure", err)
	}
	return st.finish(st.execute(ctx, afterCancel, env))
}

// stageCondition evaluates a pre-if or post-if: an if: condition, with
// the status functions of the job.
func (jr *legRun) stageCondition(src string, ctxs map[string]any, status statusFuncs) (bool, error) {
	n, err := expr.Condition(src)
	if err != nil {
		return false, err
	}
	v, err := expr.Eval(n, jr.r.exprEnv(ctxs, &status, jr.workspace))
	if err != nil {
		return false, err
	}
	return expr.Truthy(v), nil
}
