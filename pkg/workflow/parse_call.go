package workflow

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// MaxCallDepth is GitHub's limit on nested reusable workflows: ten levels
// of workflows in all, the top-level caller and up to nine called ones.
const MaxCallDepth = 10

// Call is a job that calls a reusable workflow (jobs.<id>.uses).
type Call struct {
	Uses Value
	With []KV
	// Secrets maps the callee's secrets to values (expressions over the
	// caller's secrets); Inherit passes every secret of the caller.
	Secrets    []KV
	Inherit    bool
	SecretsPos Pos // where secrets: is written
}

// WorkflowCall is on.workflow_call: what a reusable workflow takes and
// gives. Its shape is checked by ruleCallDefs; what does not fit is left
// out here.
type WorkflowCall struct {
	Inputs  []*CallInput
	Outputs []KV // name → value (an expression over jobs.<id>.outputs)
	Secrets []*CallSecret
}

// CallInput is one on.workflow_call input.
type CallInput struct {
	Name string
	Pos
	Type     string // boolean, number or string
	Required bool
	Default  Value
}

// CallSecret is one on.workflow_call secret.
type CallSecret struct {
	Name string
	Pos
	Required bool
}

// callJobKeys are the keys a calling job may have besides uses, with and
// secrets (GitHub's "supported keywords for jobs that call a reusable
// workflow").
var callJobKeys = map[string]bool{
	"name": true, "uses": true, "with": true, "secrets": true, "strategy": true,
	"needs": true, "if": true, "permissions": true, "concurrency": true,
}

// callJob reads the uses, with and secrets of a job that calls a
// reusable workflow; keys that only apply to jobs with steps are errors.
func (p *parser) callJob(j *Job, n *yaml.Node, where string) {
	n = resolve(n)
	c := &Call{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		switch k.Value {
		case "uses":
			c.Uses = p.scalar(v, where+".uses")
		case "with":
			c.With = p.kvs(v, where+".with")
		case "secrets":
			c.SecretsPos = posOf(k)
			if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
				if v.Value != "inherit" {
					p.errf(posOf(v), "syntax", "%s.secrets must be a mapping or inherit, not %q", where, v.Value)
				}
				c.Inherit = true
				continue
			}
			c.Secrets = p.kvs(v, where+".secrets")
		default:
			if !callJobKeys[k.Value] && k.Kind == yaml.ScalarNode {
				p.errf(posOf(k), "syntax", "%s: %q does not apply to a job that calls a reusable workflow with \"uses\"", where, k.Value)
			}
		}
	}
	if c.Uses.Set {
		ref, err := ParseActionRef(c.Uses.Raw)
		switch {
		case err != nil:
			p.errf(c.Uses.Pos, "uses", "%s.uses: %v", where, err)
		case ref.IsDocker():
			p.errf(c.Uses.Pos, "uses", "%s.uses: a job calls a workflow file, not docker://", where)
		case !ref.Local && !isWorkflowPath(ref.Path):
			p.errf(c.Uses.Pos, "uses", "%s.uses: expected owner/repo/.github/workflows/FILE.yml@ref, not %q", where, c.Uses.Raw)
		case ref.Local && !isWorkflowPath(ref.Path):
			p.errf(c.Uses.Pos, "uses", "%s.uses: expected ./.github/workflows/FILE.yml, not %q", where, c.Uses.Raw)
		}
	}
	j.Call = c
}

// isWorkflowPath: reusable workflows live in .github/workflows, as YAML.
func isWorkflowPath(p string) bool {
	dir, file, ok := strings.Cut(p, ".github/workflows/")
	return ok && dir == "" && !strings.Contains(file, "/") && (strings.HasSuffix(file, ".yml") || strings.HasSuffix(file, ".yaml"))
}

// workflowCall reads on.workflow_call; its problems are ruleCallDefs'.
func workflowCall(n *yaml.Node) *WorkflowCall {
	wc := &WorkflowCall{}
	eachEntry(mappingValue(n, "inputs"), func(k, v *yaml.Node) {
		in := &CallInput{Name: k.Value, Pos: posOf(k), Type: "string"}
		if t := mappingValue(v, "type"); t != nil {
			in.Type = t.Value
		}
		if r := mappingValue(v, "required"); r != nil {
			in.Required = r.Value == "true"
		}
		if d := mappingValue(v, "default"); d != nil && d.Kind == yaml.ScalarNode {
			in.Default = Value{Raw: d.Value, Pos: posOf(d), Set: d.Tag != "!!null", Quoted: quoted(d)}
		}
		wc.Inputs = append(wc.Inputs, in)
	})
	eachEntry(mappingValue(n, "outputs"), func(k, v *yaml.Node) {
		if val := mappingValue(v, "value"); val != nil && val.Kind == yaml.ScalarNode {
			wc.Outputs = append(wc.Outputs, KV{Key: k.Value, KeyPos: posOf(k), Value: Value{Raw: val.Value, Pos: posOf(val), Set: true, Quoted: quoted(val)}})
		}
	})
	eachEntry(mappingValue(n, "secrets"), func(k, v *yaml.Node) {
		s := &CallSecret{Name: k.Value, Pos: posOf(k)}
		if r := mappingValue(v, "required"); r != nil {
			s.Required = r.Value == "true"
		}
		wc.Secrets = append(wc.Secrets, s)
	})
	return wc
}

// Input returns the input of that name (case-insensitive, as GitHub), or nil.
func (wc *WorkflowCall) Input(name string) *CallInput {
	for _, in := range wc.Inputs {
		if strings.EqualFold(in.Name, name) {
			return in
		}
	}
	return nil
}

// Secret returns the secret of that name (case-insensitive), or nil.
func (wc *WorkflowCall) Secret(name string) *CallSecret {
	for _, s := range wc.Secrets {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// CheckCall checks job j of caller against the workflow it calls: the
// callee has an on.workflow_call trigger; with: names only its inputs,
// gives every required one, and literal values fit their type; secrets:
// names only its secrets and gives every required one (unless inherit).
// Positions are in the caller's file. callee is named by j's uses.
func CheckCall(caller *Workflow, j *Job, callee *Workflow) Errors {
	var errs Errors
	c := j.Call
	add := func(pos Pos, format string, args ...any) {
		errs = append(errs, &Error{File: caller.File, Pos: pos, Kind: "call", Message: fmt.Sprintf(format, args...)})
	}
	wc := callee.On.Call
	if wc == nil {
		add(c.Uses.Pos, "job %s: %s has no on.workflow_call trigger, so it cannot be called (its triggers: %s)", j.ID, c.Uses.Raw, strings.Join(callee.On.Events, ", "))
		return errs
	}
	checkNeedsOutputs(caller, j, wc, add)
	given := map[string]bool{}
	var names []string
	for _, in := range wc.Inputs {
		names = append(names, in.Name)
	}
	for _, kv := range c.With {
		in := wc.Input(kv.Key)
		if in == nil {
			add(kv.KeyPos, "job %s: invalid input %q: it is not defined in %s (its inputs: %s)%s", j.ID, kv.Key, c.Uses.Raw, listOrNone(names), didYouMean(kv.Key, names))
			continue
		}
		given[strings.ToLower(in.Name)] = true
		if !strings.Contains(kv.Value.Raw, "${{") {
			if _, err := TypeCallInput(in, kv.Value.Raw); err != nil {
				pos := kv.Value.Pos
				if kv.Value.Quoted {
					pos.Col++
				}
				add(pos, "job %s: %v", j.ID, err)
			}
		}
	}
	for _, in := range wc.Inputs {
		if in.Required && !given[strings.ToLower(in.Name)] {
			add(c.Uses.Pos, "job %s: input %q is required by %s but not given in with:", j.ID, in.Name, c.Uses.Raw)
		}
	}
	if c.Inherit {
		return sortErrors(errs)
	}
	names = names[:0]
	for _, s := range wc.Secrets {
		names = append(names, s.Name)
	}
	given = map[string]bool{}
	for _, kv := range c.Secrets {
		s := wc.Secret(kv.Key)
		if s == nil {
			add(kv.KeyPos, "job %s: invalid secret %q: it is not defined in %s (its secrets: %s)%s", j.ID, kv.Key, c.Uses.Raw, listOrNone(names), didYouMean(kv.Key, names))
			continue
		}
		given[strings.ToLower(s.Name)] = true
	}
	for _, s := range wc.Secrets {
		if s.Required && !given[strings.ToLower(s.Name)] {
			pos := c.Uses.Pos
			if c.SecretsPos.Line > 0 {
				pos = c.SecretsPos
			}
			add(pos, "job %s: secret %q is required by %s but not given in secrets:", j.ID, s.Name, c.Uses.Raw)
		}
	}
	return sortErrors(errs)
}

func sortErrors(errs Errors) Errors {
	sort.SliceStable(errs, func(a, b int) bool {
		return errs[a].Line < errs[b].Line || errs[a].Line == errs[b].Line && errs[a].Col < errs[b].Col
	})
	return errs
}

// TypeCallInput gives a workflow_call input its type: a boolean (true or
// false), a number, or a string. v is what with: gave, evaluated: a
// string, or a bool or float64 from an expression.
func TypeCallInput(in *CallInput, v any) (any, error) {
	switch in.Type {
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if x == "true" || x == "false" {
				return x == "true", nil
			}
		}
		return nil, fmt.Errorf("input %q must be a boolean (true or false), not %s", in.Name, describe(v))
	case "number":
		switch x := v.(type) {
		case float64:
			return x, nil
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f, nil
			}
		}
		return nil, fmt.Errorf("input %q must be a number, not %s", in.Name, describe(v))
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case nil:
		return "", nil
	}
	return nil, fmt.Errorf("input %q must be a string, not %s", in.Name, describe(v))
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprint(v)
}

// checkNeedsOutputs checks needs.<j>.outputs.<name> in the jobs that need
// j: the callee declares that output (on.workflow_call.outputs), as
// ruleRefNeeds checks a job's own outputs.
func checkNeedsOutputs(caller *Workflow, j *Job, wc *WorkflowCall, add func(Pos, string, ...any)) {
	var outs []string
	for _, o := range wc.Outputs {
		outs = append(outs, o.Key)
	}
	for _, d := range caller.Jobs {
		listed := false
		for _, n := range d.Needs {
			listed = listed || strings.EqualFold(n.Raw, j.ID)
		}
		if !listed {
			continue
		}
		vals := jobExprs(d)
		for _, st := range d.Steps {
			vals = append(vals, stepExprs(d, st)...)
		}
		for _, ev := range vals {
			e := &exprNode{exprValue: ev, job: d}
			switch {
			case e.cond:
				if n, err := expr.Condition(e.val.Raw); err == nil {
					e.nodes = []expr.Node{n}
				}
			case strings.Contains(e.val.Raw, "${{"):
				if t, err := expr.ParseTemplate(e.val.Raw); err == nil {
					e.nodes = t.Exprs()
				}
			}
			e.accesses(func(p expr.Path, pos Pos) {
				if len(p.Segments) < 4 || p.Segments[0] != "needs" || !strings.EqualFold(p.Segments[1], j.ID) || p.Segments[2] != "outputs" || p.Segments[3] == "*" {
					return
				}
				for _, o := range outs {
					if strings.EqualFold(o, p.Segments[3]) {
						return
					}
				}
				add(pos, "%s: %s has no output %q; its outputs: %s%s", e.where, j.Call.Uses.Raw, p.Segments[3], listOrNone(outs), didYouMean(p.Segments[3], outs))
			})
		}
	}
}
