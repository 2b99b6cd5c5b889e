package workflow

import "fmt"

// ruleExpressions parses every `${{ }}` in places GitHub evaluates them and
// checks the contexts and functions each one uses.
func ruleExpressions(v *validator, w *Workflow) {
	v.template(w.Name, "name", false)
	v.template(w.RunName, "run-name", false)
	v.kvs(w.Env, "env")
	v.concurrency(w.Concurrency, "concurrency")
	for _, j := range w.Jobs {
		where := "job " + j.ID
		v.template(j.Name, where+".name", false)
		v.condition(j.If, where+".if")
		v.kvs(j.Env, where+".env")
		v.kvs(j.Outputs, where+".outputs")
		v.template(j.TimeoutMinutes, where+".timeout-minutes", false)
		v.template(j.ContinueOnError, where+".continue-on-error", false)
		v.concurrency(j.Concurrency, where+".concurrency")
		if j.Strategy != nil {
			v.template(j.Strategy.FailFast, where+".strategy.fail-fast", false)
			v.template(j.Strategy.MaxParallel, where+".strategy.max-parallel", false)
		}
		for _, s := range j.Steps {
			sw := fmt.Sprintf("%s step %d", where, s.Index+1)
			for _, val := range []Value{s.Name, s.Run, s.WorkingDirectory, s.TimeoutMinutes, s.ContinueOnError} {
				v.template(val, sw, false)
			}
			v.condition(s.If, sw+".if")
			v.kvs(s.With, sw+".with")
			v.kvs(s.Env, sw+".env")
		}
	}
}

func (v *validator) kvs(kvs []KV, where string) {
	for _, kv := range kvs {
		v.template(kv.Value, where+"."+kv.Key, false)
	}
}

func (v *validator) concurrency(c *Concurrency, where string) {
	if c != nil {
		v.template(c.Group, where+".group", false)
		v.template(c.CancelInProgress, where+".cancel-in-progress", false)
	}
}
