package workflow

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

func (p *parser) triggers(n *yaml.Node) Triggers {
	var t Triggers
	n = resolve(n)
	t.Node = n
	switch n.Kind {
	case yaml.ScalarNode:
		t.Events = []string{n.Value}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			t.Events = append(t.Events, p.scalar(c, "on").Raw)
		}
	case yaml.MappingNode:
		p.mapping(n, "on", map[string]func(k, v *yaml.Node){"*": func(k, v *yaml.Node) {
			t.Events = append(t.Events, k.Value)
			switch k.Value {
			case "push", "pull_request", "pull_request_target":
				if k.Value == "push" {
					t.Push = p.pushFilter(v)
				} else {
					p.pushFilter(v) // same keys; parsed for errors only
				}
			case "workflow_dispatch":
				t.Dispatch = p.dispatch(v)
			case "workflow_call":
				t.Call = workflowCall(v)
			}
		}})
	default:
		p.errf(posOf(n), "syntax", "on must be an event name, a list or a mapping")
	}
	for _, e := range t.Events {
		if t.Push == nil && e == "push" {
			t.Push = &PushFilter{}
		}
		if t.Dispatch == nil && e == "workflow_dispatch" {
			t.Dispatch = &Dispatch{}
		}
		if t.Call == nil && e == "workflow_call" {
			t.Call = &WorkflowCall{}
		}
	}
	return t
}

func (p *parser) pushFilter(n *yaml.Node) *PushFilter {
	f := &PushFilter{}
	if resolve(n).Tag == "!!null" {
		return f
	}
	list := func(dst *[]Value, name string) func(k, v *yaml.Node) {
		return func(_, v *yaml.Node) { *dst = p.scalarList(v, "on.push."+name) }
	}
	p.mapping(n, "on.push", map[string]func(k, v *yaml.Node){
		"branches":        list(&f.Branches, "branches"),
		"branches-ignore": list(&f.BranchesIgnore, "branches-ignore"),
		"tags":            list(&f.Tags, "tags"),
		"tags-ignore":     list(&f.TagsIgnore, "tags-ignore"),
		"paths":           list(&f.Paths, "paths"),
		"paths-ignore":    list(&f.PathsIgnore, "paths-ignore"),
		"types":           func(_, v *yaml.Node) {},
	})
	for _, pair := range [][2][]Value{{f.Branches, f.BranchesIgnore}, {f.Tags, f.TagsIgnore}, {f.Paths, f.PathsIgnore}} {
		if len(pair[0]) > 0 && len(pair[1]) > 0 {
			p.errf(pair[1][0].Pos, "syntax", "a filter and its -ignore form cannot be used together for the same event")
		}
	}
	return f
}

var inputTypes = map[string]bool{"string": true, "boolean": true, "number": true, "choice": true, "environment": true}

func (p *parser) dispatch(n *yaml.Node) *Dispatch {
	d := &Dispatch{}
	if resolve(n).Tag == "!!null" {
		return d
	}
	p.mapping(n, "on.workflow_dispatch", map[string]func(k, v *yaml.Node){
		"inputs": func(_, v *yaml.Node) {
			p.mapping(v, "on.workflow_dispatch.inputs", map[string]func(k, v *yaml.Node){"*": func(k, v *yaml.Node) {
				d.Inputs = append(d.Inputs, p.input(k, v))
			}})
		},
	})
	return d
}

func (p *parser) input(k, v *yaml.Node) *InputDef {
	in := &InputDef{Name: k.Value, Pos: posOf(k), Type: "string"}
	if resolve(v).Tag == "!!null" {
		return in // `name:` alone: an optional string input, as on GitHub
	}
	where := "input " + k.Value
	var typePos Pos
	var required Value
	p.mapping(v, where, map[string]func(k, v *yaml.Node){
		"description": func(_, v *yaml.Node) { in.Description = p.scalar(v, where+".description").Raw },
		"type": func(_, v *yaml.Node) {
			t := p.scalar(v, where+".type")
			in.Type, typePos = t.Raw, t.Pos
			if !inputTypes[t.Raw] {
				p.errf(t.Pos, "inputs", "input %q has unknown type %q; expected boolean, choice, environment, number or string", in.Name, t.Raw)
			}
		},
		"required":           func(_, v *yaml.Node) { required = p.scalar(v, where+".required") },
		"default":            func(_, v *yaml.Node) { in.Default = p.scalar(v, where+".default") },
		"deprecationMessage": func(_, v *yaml.Node) {},
		"options": func(_, v *yaml.Node) {
			for _, o := range p.scalarList(v, where+".options") {
				in.Options = append(in.Options, o.Raw)
			}
		},
	})
	if required.Set {
		b, err := strconv.ParseBool(required.Raw)
		if err != nil {
			p.errf(required.Pos, "inputs", "input %q: required must be true or false, not %q", in.Name, required.Raw)
		}
		in.Required = b
	}
	if in.Type == "choice" && len(in.Options) == 0 {
		p.errf(typePos, "inputs", "input %q of type choice needs options", in.Name)
	}
	if in.Type != "choice" && len(in.Options) > 0 {
		p.errf(in.Pos, "inputs", "input %q has options but its type is %s, not choice", in.Name, in.Type)
	}
	if in.Default.Set {
		if err := checkType(in, in.Default.Raw); err != nil {
			p.errf(in.Default.Pos, "inputs", "default of %v", err)
		}
	}
	return in
}

// CheckInput checks a dispatch input value against its declaration: of
// its type, and not empty when required (GitHub refuses both).
func CheckInput(in *InputDef, value string) error {
	if in.Required && strings.TrimSpace(value) == "" {
		return fmt.Errorf("input %q is required: the value is empty", in.Name)
	}
	return checkType(in, value)
}

// checkType checks a value against an input's type.
func checkType(in *InputDef, value string) error {
	switch in.Type {
	case "boolean":
		if value != "true" && value != "false" {
			return fmt.Errorf("input %q must be true or false, not %q", in.Name, value)
		}
	case "number":
		// ParseFloat takes NaN and Inf too: they are not numbers here.
		if f, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("input %q must be a number, not %q", in.Name, value)
		}
	case "choice":
		for _, o := range in.Options {
			if o == value {
				return nil
			}
		}
		return fmt.Errorf("input %q must be one of %s, not %q", in.Name, strings.Join(in.Options, ", "), value)
	}
	return nil
}
