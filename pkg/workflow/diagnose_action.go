package workflow

import "fmt"

// DiagnoseAction runs the step-level rules over a composite action's
// steps, as Diagnose does over a job's: expression syntax, the contexts
// an action may use (github, inputs, steps, runner, env, job, strategy,
// matrix; no secrets, vars or needs, which GitHub refuses in
// action.yml), steps.<id> defined before use, inputs.<name> declared by
// the action, step ids, env names, uses:, deprecated commands, script
// injection, comparisons that are always false. The steps' outputs and
// the inputs' defaults are checked too. Problems are in the action's
// file, sorted by position; an action that is not composite has none.
func DiagnoseAction(a *Action, opts Options) Errors {
	if a == nil || !a.Runs.IsComposite() {
		return nil
	}
	v := &validator{file: a.File, opts: opts, action: a}
	// The steps run as a job's would: one synthetic job holds them, with
	// no matrix, needs or services of its own (those are the caller's).
	j := &Job{ID: "", Steps: a.Runs.Steps}
	p := v.newWalk()
	p.job(j, actionExprs(a), actionStepExprs)
	p.finish()
	v.errs.sort()
	return v.errs
}

// actionExprs are an action's own values: its inputs' defaults and its
// outputs' values.
func actionExprs(a *Action) []exprValue {
	var l exprList
	for _, in := range a.Inputs {
		l.add(in.Default, fmt.Sprintf("inputs.%s.default", in.Name), "inputs.<input_id>.default")
	}
	for _, out := range a.Outputs {
		l.add(out.Value, fmt.Sprintf("outputs.%s.value", out.Name), "outputs.<output_id>.value")
	}
	return l
}

// actionStepExprs are a composite action step's values, with the keys of
// GitHub's action schema (availabilityTable).
func actionStepExprs(_ *Job, s *Step) []exprValue {
	const sk = "runs.steps."
	var l exprList
	sw := fmt.Sprintf("runs.steps step %d", s.Index+1)
	l.add(s.Name, sw, sk+"name")
	l.cond(s.If, sw+".if", sk+"if")
	l.add(s.Run, sw, sk+"run")
	l.add(s.Shell, sw+".shell", sk+"shell")
	l.add(s.WorkingDirectory, sw, sk+"working-directory")
	l.add(s.ContinueOnError, sw, sk+"continue-on-error")
	l.kvs(s.With, sw+".with", sk+"with")
	l.envs(s.Env, sw+".env", sk+"env")
	return l
}

// stepWhere names a step in messages: "job build step 2", or "runs.steps
// step 2" in a composite action.
func (v *validator) stepWhere(j *Job, s *Step) string {
	if v.action != nil {
		return fmt.Sprintf("runs.steps step %d", s.Index+1)
	}
	return fmt.Sprintf("job %s step %d", j.ID, s.Index+1)
}
