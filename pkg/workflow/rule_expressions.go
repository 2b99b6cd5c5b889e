package workflow

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// ruleExpressions reports expressions that do not parse and contexts
// that do not exist. Where a context or function may be used is
// rule_contexts.go's concern.
func ruleExpressions() *rule {
	return &rule{
		expr: func(v *validator, e *exprNode) {
			for _, n := range e.nodes {
				v.refs(e.val, n, e.where)
			}
		},
		badExpr: func(v *validator, e *exprNode, err error) { v.exprError(e.val, err, e.where) },
	}
}

// exprValue is one value GitHub evaluates, with the workflow key that
// decides which contexts and functions it may use (rule_contexts.go).
type exprValue struct {
	val   Value
	where string // names the value in messages
	key   string // key of the availability table; "" is unrestricted
	cond  bool   // an if: condition, where a bare expression is allowed
	// object: the value gives a mapping (env: ${{ expr }}, a ${{ insert }}
	// entry), not a string.
	object bool
}

// exprValues lists every value that may hold expressions, in file order
// per job (as the pass visits them).
func exprValues(w *Workflow) []exprValue {
	out := workflowExprs(w)
	for _, j := range w.Jobs {
		out = append(out, jobExprs(j)...)
		for _, s := range j.Steps {
			out = append(out, stepExprs(j, s)...)
		}
	}
	return out
}

// exprList builds a list of values that may hold expressions.
type exprList []exprValue

func (l *exprList) add(val Value, where, key string) {
	if val.Set {
		*l = append(*l, exprValue{val: val, where: where, key: key})
	}
}

func (l *exprList) cond(val Value, where, key string) {
	if val.Set {
		*l = append(*l, exprValue{val: val, where: where, key: key, cond: true})
	}
}

func (l *exprList) kvs(kvs []KV, where, key string) {
	for _, kv := range kvs {
		l.add(kv.Value, where+"."+kv.Key, key)
	}
}

// envs adds an env mapping: its values, and its names when an expression
// computes them (GitHub evaluates those too, with the same contexts), and
// the expressions that give entries (KV.Insert).
func (l *exprList) envs(kvs []KV, where, key string) {
	for _, kv := range kvs {
		if kv.Insert {
			*l = append(*l, exprValue{val: kv.Value, where: where, key: key, object: true})
			continue
		}
		if strings.Contains(kv.Key, "${{") {
			l.add(Value{Raw: kv.Key, Pos: kv.KeyPos, Set: true, Quoted: kv.KeyQuoted}, where+" name "+kv.Key, key)
		}
		l.add(kv.Value, where+"."+kv.Key, key)
	}
}

func (l *exprList) concurrency(c *Concurrency, where, key string) {
	if c != nil {
		l.add(c.Group, where+".group", key)
		l.add(c.CancelInProgress, where+".cancel-in-progress", key)
	}
}

// workflowExprs are the workflow's own values. The workflow's name, which
// GitHub does not document, is unrestricted; its defaults take no
// expression at all (ruleScalars).
func workflowExprs(w *Workflow) []exprValue {
	var l exprList
	l.add(w.Name, "name", "")
	l.add(w.RunName, "run-name", "run-name")
	l.envs(w.Env, "env", "env")
	l.concurrency(w.Concurrency, "concurrency", "concurrency")
	return l
}

const jobKey = "jobs.<job_id>."

// jobExprs are a job's values, its steps' aside.
func jobExprs(j *Job) []exprValue {
	var l exprList
	where := "job " + j.ID
	l.add(j.Name, where+".name", jobKey+"name")
	l.cond(j.If, where+".if", jobKey+"if")
	for _, r := range j.RunsOn {
		l.add(r, where+".runs-on", jobKey+"runs-on")
	}
	l.add(j.RunsOnGroup, where+".runs-on.group", jobKey+"runs-on")
	l.envs(j.Env, where+".env", jobKey+"env")
	l.add(j.Defaults.Shell, where+".defaults.run.shell", jobKey+"defaults.run")
	l.add(j.Defaults.WorkingDirectory, where+".defaults.run.working-directory", jobKey+"defaults.run")
	l.kvs(j.Outputs, where+".outputs", jobKey+"outputs.<output_id>")
	l.container(j.Container, where+".container")
	l.add(j.TimeoutMinutes, where+".timeout-minutes", jobKey+"timeout-minutes")
	l.add(j.ContinueOnError, where+".continue-on-error", jobKey+"continue-on-error")
	l.concurrency(j.Concurrency, where+".concurrency", jobKey+"concurrency")
	if c := j.Call; c != nil {
		l.kvs(c.With, where+".with", jobKey+"with.<with_id>")
		l.kvs(c.Secrets, where+".secrets", jobKey+"secrets.<secrets_id>")
	}
	if s := j.Strategy; s != nil {
		if s.Matrix != nil {
			matrixValues(s.Matrix, func(val Value) { l.add(val, where+".strategy.matrix", jobKey+"strategy") })
		}
		l.add(s.FailFast, where+".strategy.fail-fast", jobKey+"strategy")
		l.add(s.MaxParallel, where+".strategy.max-parallel", jobKey+"strategy")
	}
	for _, sv := range j.Services {
		sw := where + ".services." + sv.Label
		l.add(sv.Image, sw+".image", jobKey+"services")
		l.add(sv.Username, sw+".credentials.username", jobKey+"services.<service_id>.credentials")
		l.add(sv.Password, sw+".credentials.password", jobKey+"services.<service_id>.credentials")
		l.envs(sv.Env, sw+".env", jobKey+"services.<service_id>.env.<env_id>")
		for _, p := range sv.Ports {
			l.add(p, sw+".ports", jobKey+"services")
		}
		l.add(sv.Options, sw+".options", jobKey+"services")
	}
	return l
}

// stepExprs are a step's values.
func stepExprs(j *Job, s *Step) []exprValue {
	const sk = jobKey + "steps."
	var l exprList
	sw := fmt.Sprintf("job %s step %d", j.ID, s.Index+1)
	l.add(s.Name, sw, sk+"name")
	l.cond(s.If, sw+".if", sk+"if")
	l.add(s.Run, sw, sk+"run")
	l.add(s.Shell, sw+".shell", sk+"shell")
	l.add(s.WorkingDirectory, sw, sk+"working-directory")
	l.add(s.TimeoutMinutes, sw, sk+"timeout-minutes")
	l.add(s.ContinueOnError, sw, sk+"continue-on-error")
	l.kvs(s.With, sw+".with", sk+"with")
	l.envs(s.Env, sw+".env", sk+"env")
	return l
}

// matrixValues calls f for every string in a matrix that holds an
// expression, keys included (but not the ${{ insert }} directive). Aliases are not followed: their target is visited where it
// is defined, and following them could explode.
func matrixValues(n *yaml.Node, f func(Value)) {
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		for _, c := range n.Content {
			matrixValues(c, f)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!str" && !IsInsert(n.Value) {
			f(Value{Raw: n.Value, Pos: posOf(n), Set: true, Quoted: quoted(n)})
		}
	}
}
