package workflow

import (
	"strings"

	"github.com/birdflock/runner/pkg/workflow/expr"
	"gopkg.in/yaml.v3"
)

// ruleRefInputs checks inputs.<name> and github.event.inputs.<name>: the
// input is declared by on.workflow_dispatch or on.workflow_call (the
// events that have inputs).
func ruleRefInputs() *rule {
	var names []string
	var hasInputs bool
	return &rule{
		workflow: func(_ *validator, w *Workflow) {
			names, hasInputs = nil, false
			if w.On.Dispatch != nil {
				hasInputs = true
				for _, in := range w.On.Dispatch.Inputs {
					names = append(names, in.Name)
				}
			}
			if call := eventNode(w.On, "workflow_call"); call != nil || w.On.Has("workflow_call") {
				hasInputs = true
				if ins := mappingValue(call, "inputs"); ins != nil && ins.Kind == yaml.MappingNode {
					for i := 0; i+1 < len(ins.Content); i += 2 {
						names = append(names, ins.Content[i].Value)
					}
				}
			}
		},
		expr: func(v *validator, e *exprNode) {
			if v.action != nil {
				actionInputRefs(v, e)
				return
			}
			e.accesses(func(p expr.Path, pos Pos) {
				var name string
				switch s := p.Segments; {
				case s[0] == "inputs" && len(s) >= 2:
					name = s[1]
				case len(s) >= 4 && s[0] == "github" && s[1] == "event" && s[2] == "inputs":
					name = s[3]
				default:
					return
				}
				if name == "*" {
					return
				}
				if !hasInputs {
					v.errf(pos, "inputs-ref", "%s: input %q is not declared: the workflow has no workflow_dispatch or workflow_call trigger, so it has no inputs", e.where, name)
					return
				}
				for _, n := range names {
					if strings.EqualFold(n, name) {
						return
					}
				}
				v.errf(pos, "inputs-ref", "%s: input %q is not declared in on.workflow_dispatch or on.workflow_call; inputs: %s%s",
					e.where, name, listOrNone(names), didYouMean(name, names))
			})
		},
	}
}

// eventNode returns the configuration of an event in a mapping `on:`
// (nil when absent, in another form of `on:`, or null).
func eventNode(t Triggers, event string) *yaml.Node {
	n := mappingValue(t.Node, event)
	if n == nil || n.Tag == "!!null" {
		return nil
	}
	return n
}

// mappingValue returns the value of key in a mapping node, aliases
// resolved, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

// actionInputRefs checks inputs.<name> in a composite action: the action
// declares the input. github.event.inputs is the workflow's, unknown here.
func actionInputRefs(v *validator, e *exprNode) {
	var names []string
	for _, in := range v.action.Inputs {
		names = append(names, in.Name)
	}
	e.accesses(func(p expr.Path, pos Pos) {
		s := p.Segments
		if s[0] != "inputs" || len(s) < 2 || s[1] == "*" || v.action.Input(s[1]) != nil {
			return
		}
		v.errf(pos, "inputs-ref", "%s: input %q is not declared in the action's inputs; inputs: %s%s",
			e.where, s[1], listOrNone(names), didYouMean(s[1], names))
	})
}
