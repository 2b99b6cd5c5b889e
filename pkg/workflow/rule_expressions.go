package workflow

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// ruleExpressions parses every `${{ }}` in places GitHub evaluates them and
// checks the contexts each one names.
func ruleExpressions(v *validator, w *Workflow) {
	for _, e := range exprValues(w) {
		if e.cond {
			v.condition(e.val, e.where)
		} else {
			v.template(e.val, e.where)
		}
	}
}

// exprValue is one value GitHub evaluates, with the workflow key that
// decides which contexts and functions it may use (rule_contexts.go).
type exprValue struct {
	val   Value
	where string // names the value in messages
	key   string // key of the availability table; "" is unrestricted
	cond  bool   // an if: condition, where a bare expression is allowed
}

// exprValues lists every value that may hold expressions, in file order
// per job. Values GitHub does not document (the workflow's name and
// defaults) are unrestricted.
func exprValues(w *Workflow) []exprValue {
	var out []exprValue
	add := func(val Value, where, key string) {
		if val.Set {
			out = append(out, exprValue{val: val, where: where, key: key})
		}
	}
	kvs := func(kvs []KV, where, key string) {
		for _, kv := range kvs {
			add(kv.Value, where+"."+kv.Key, key)
		}
	}
	concurrency := func(c *Concurrency, where, key string) {
		if c != nil {
			add(c.Group, where+".group", key)
			add(c.CancelInProgress, where+".cancel-in-progress", key)
		}
	}
	add(w.Name, "name", "")
	add(w.RunName, "run-name", "run-name")
	kvs(w.Env, "env", "env")
	add(w.Defaults.WorkingDirectory, "defaults.run.working-directory", "")
	concurrency(w.Concurrency, "concurrency", "concurrency")
	for _, j := range w.Jobs {
		const jk = "jobs.<job_id>."
		where := "job " + j.ID
		add(j.Name, where+".name", jk+"name")
		if j.If.Set {
			out = append(out, exprValue{val: j.If, where: where + ".if", key: jk + "if", cond: true})
		}
		for _, r := range j.RunsOn {
			add(r, where+".runs-on", jk+"runs-on")
		}
		kvs(j.Env, where+".env", jk+"env")
		add(j.Defaults.WorkingDirectory, where+".defaults.run.working-directory", jk+"defaults.run")
		kvs(j.Outputs, where+".outputs", jk+"outputs.<output_id>")
		add(j.TimeoutMinutes, where+".timeout-minutes", jk+"timeout-minutes")
		add(j.ContinueOnError, where+".continue-on-error", jk+"continue-on-error")
		concurrency(j.Concurrency, where+".concurrency", jk+"concurrency")
		if s := j.Strategy; s != nil {
			if s.Matrix != nil {
				matrixValues(s.Matrix, func(val Value) { add(val, where+".strategy.matrix", jk+"strategy") })
			}
			add(s.FailFast, where+".strategy.fail-fast", jk+"strategy")
			add(s.MaxParallel, where+".strategy.max-parallel", jk+"strategy")
		}
		for _, s := range j.Steps {
			const sk = jk + "steps."
			sw := fmt.Sprintf("%s step %d", where, s.Index+1)
			add(s.Name, sw, sk+"name")
			if s.If.Set {
				out = append(out, exprValue{val: s.If, where: sw + ".if", key: sk + "if", cond: true})
			}
			add(s.Run, sw, sk+"run")
			add(s.WorkingDirectory, sw, sk+"working-directory")
			add(s.TimeoutMinutes, sw, sk+"timeout-minutes")
			add(s.ContinueOnError, sw, sk+"continue-on-error")
			kvs(s.With, sw+".with", sk+"with")
			kvs(s.Env, sw+".env", sk+"env")
		}
	}
	return out
}

// matrixValues calls f for every string in a matrix that holds an
// expression. Aliases are not followed: their target is visited where it
// is defined, and following them could explode.
func matrixValues(n *yaml.Node, f func(Value)) {
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		for _, c := range n.Content {
			matrixValues(c, f)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			f(Value{Raw: n.Value, Pos: posOf(n), Set: true, Quoted: quoted(n)})
		}
	}
}
