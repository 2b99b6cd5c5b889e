package workflow

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// maxDispatchInputs is GitHub's limit on the inputs of workflow_dispatch.
const maxDispatchInputs = 25

// ruleCallDefs checks the definitions of on.workflow_call (its inputs
// need a type of boolean, number or string, defaults of that type and
// known keys; outputs need a value; secrets take description and
// required) and the number of on.workflow_dispatch inputs (the parser
// checks each of those).
func ruleCallDefs() *rule {
	return &rule{workflow: func(v *validator, w *Workflow) {
		if d := w.On.Dispatch; d != nil && len(d.Inputs) > maxDispatchInputs {
			v.errf(d.Inputs[maxDispatchInputs].Pos, "inputs", "on.workflow_dispatch has %d inputs; GitHub's limit is %d", len(d.Inputs), maxDispatchInputs)
		}
		call := eventNode(w.On, "workflow_call")
		if call == nil || call.Kind != yaml.MappingNode {
			return
		}
		eachEntry(mappingValue(call, "inputs"), func(name, def *yaml.Node) {
			v.callInput(name, def)
		})
		eachEntry(mappingValue(call, "outputs"), func(name, def *yaml.Node) {
			where := "on.workflow_call.outputs." + name.Value
			v.knownKeys(def, where, "description", "value")
			val := mappingValue(def, "value")
			if val == nil {
				v.errf(posOf(name), "inputs", "%s needs a value (e.g. value: ${{ jobs.build.outputs.x }})", where)
				return
			}
			v.callOutputValue(w, val, where+".value")
		})
		eachEntry(mappingValue(call, "secrets"), func(name, def *yaml.Node) {
			where := "on.workflow_call.secrets." + name.Value
			if def.Tag == "!!null" {
				return
			}
			v.knownKeys(def, where, "description", "required")
			if r := mappingValue(def, "required"); r != nil && r.Value != "true" && r.Value != "false" {
				v.errf(posOf(r), "inputs", "%s.required must be true or false, not %q", where, r.Value)
			}
		})
	}}
}

func (v *validator) callInput(name, def *yaml.Node) {
	where := "on.workflow_call.inputs." + name.Value
	v.knownKeys(def, where, "default", "deprecationMessage", "description", "required", "type")
	t := mappingValue(def, "type")
	switch {
	case t == nil:
		v.errf(posOf(name), "inputs", "%s needs a type: boolean, number or string", where)
		return
	case t.Value != "boolean" && t.Value != "number" && t.Value != "string":
		v.errf(posOf(t), "inputs", "%s has type %q; workflow_call inputs are boolean, number or string%s", where, t.Value, didYouMean(t.Value, []string{"boolean", "number", "string"}))
		return
	}
	r := mappingValue(def, "required")
	if r != nil && r.Value != "true" && r.Value != "false" {
		v.errf(posOf(r), "inputs", "%s.required must be true or false, not %q", where, r.Value)
	}
	d := mappingValue(def, "default")
	if r != nil && r.Value == "true" && d != nil {
		v.warnf(posOf(d), "inputs", "%s is required, so its default is never used", where)
	}
	if d == nil || d.Kind != yaml.ScalarNode || strings.Contains(d.Value, "${{") {
		return
	}
	switch t.Value {
	case "boolean":
		if d.Value != "true" && d.Value != "false" {
			v.errf(posOf(d), "inputs", "%s: the default of a boolean input must be true or false, not %q", where, d.Value)
		}
	case "number":
		if _, err := strconv.ParseFloat(d.Value, 64); err != nil {
			v.errf(posOf(d), "inputs", "%s: the default of a number input must be a number, not %q", where, d.Value)
		}
	}
}

// knownKeys reports keys of a mapping that are not in keys.
func (v *validator) knownKeys(n *yaml.Node, where string, keys ...string) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil && n.Tag != "!!null" {
			v.errf(posOf(n), "inputs", "%s must be a mapping, not %s", where, kindName(n))
		}
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !contains(keys, k.Value) {
			hint := didYouMean(k.Value, keys)
			if hint == "" {
				hint = "; expected one of " + strings.Join(keys, ", ")
			}
			v.errf(posOf(k), "inputs", "unknown key %q in %s%s", k.Value, where, hint)
		}
	}
}

// eachEntry calls f for each key and value of a mapping node.
func eachEntry(n *yaml.Node, f func(k, v *yaml.Node)) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f(n.Content[i], resolve(n.Content[i+1]))
	}
}

// callOutputValue checks jobs.<id>.outputs.<name> in the value of a
// workflow_call output: the job exists and declares the output.
func (v *validator) callOutputValue(w *Workflow, n *yaml.Node, where string) {
	if n.Kind != yaml.ScalarNode || !strings.Contains(n.Value, "${{") {
		return
	}
	val := Value{Raw: n.Value, Pos: posOf(n), Set: true, Quoted: quoted(n)}
	t, err := expr.ParseTemplate(n.Value)
	if err != nil {
		v.exprError(val, err, where)
		return
	}
	var ids []string
	for _, j := range w.Jobs {
		ids = append(ids, j.ID)
	}
	for _, x := range t.Exprs() {
		for _, p := range expr.Paths(x) {
			if p.Segments[0] != "jobs" || len(p.Segments) < 2 || p.Segments[1] == "*" {
				continue
			}
			pos := offsetPos(val, p.Offset)
			var job *Job
			for _, j := range w.Jobs {
				if strings.EqualFold(j.ID, p.Segments[1]) {
					job = j
				}
			}
			if job == nil {
				v.errf(pos, "inputs", "%s: there is no job %q; jobs: %s%s", where, p.Segments[1], strings.Join(ids, ", "), didYouMean(p.Segments[1], ids))
				continue
			}
			// A job that calls a workflow has the callee's outputs.
			if len(p.Segments) < 4 || p.Segments[2] != "outputs" || p.Segments[3] == "*" || job.calls {
				continue
			}
			var outs []string
			found := false
			for _, o := range job.Outputs {
				outs = append(outs, o.Key)
				found = found || strings.EqualFold(o.Key, p.Segments[3])
			}
			if !found {
				v.errf(pos, "inputs", "%s: job %q has no output %q; its outputs: %s%s", where, job.ID, p.Segments[3], listOrNone(outs), didYouMean(p.Segments[3], outs))
			}
		}
	}
}
