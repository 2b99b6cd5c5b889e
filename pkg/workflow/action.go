package workflow

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Action is a parsed action metadata file (action.yml or action.yaml).
type Action struct {
	File        string
	Name        Value
	Description Value
	Author      Value
	Inputs      []*ActionInputSpec
	Outputs     []*ActionOutputSpec
	Runs        ActionRuns
}

// ActionInputSpec is one entry of an action's `inputs:`.
type ActionInputSpec struct {
	Name string
	Pos
	Description        string
	Required           Value // a boolean as written; GitHub reads it loosely
	Default            Value // may hold expressions, evaluated in the step's contexts
	DeprecationMessage string
}

// IsRequired reports whether the input is marked required.
func (in *ActionInputSpec) IsRequired() bool {
	return in.Required.Set && strings.EqualFold(strings.TrimSpace(in.Required.Raw), "true")
}

// ActionOutputSpec is one entry of an action's `outputs:`.
type ActionOutputSpec struct {
	Name string
	Pos
	Description string
	// Value is the expression of a composite action's output.
	Value Value
}

// ActionRuns is an action's `runs:`.
type ActionRuns struct {
	Pos
	Using Value // composite, node12, node16, node20, node24, docker
	// JavaScript actions.
	Main, Pre, PreIf, Post, PostIf Value
	// Composite actions.
	Steps []*Step
	// Docker actions.
	Image, Entrypoint, PreEntrypoint, PostEntrypoint Value
	Args                                             []Value
	Env                                              []KV
}

// Node versions GitHub knows in runs.using.
var nodeUsing = map[string]bool{"node12": true, "node16": true, "node20": true, "node24": true}

// IsNode reports whether the action runs on Node.js.
func (r ActionRuns) IsNode() bool { return nodeUsing[strings.ToLower(r.Using.Raw)] }

// IsComposite reports whether the action is a composite action.
func (r ActionRuns) IsComposite() bool { return strings.EqualFold(r.Using.Raw, "composite") }

// IsDocker reports whether the action is a Docker container action.
func (r ActionRuns) IsDocker() bool { return strings.EqualFold(r.Using.Raw, "docker") }

// Input returns the input declared with name, compared as GitHub does
// (case-insensitively), or nil.
func (a *Action) Input(name string) *ActionInputSpec {
	for _, in := range a.Inputs {
		if strings.EqualFold(in.Name, name) {
			return in
		}
	}
	return nil
}

// ParseAction reads an action's metadata file. Every problem comes back at
// once with the file's line and column: YAML syntax, unknown keys, a
// missing or unknown runs.using, a JavaScript action without main, a
// composite action without steps or with a run step without shell.
func ParseAction(file string, data []byte) (*Action, Errors) {
	p := &parser{file: file}
	root := p.document(data, "action metadata")
	if root == nil {
		return nil, p.errs
	}
	a := p.action(root)
	p.errs.sort()
	if len(p.errs) > 0 {
		return a, p.errs
	}
	return a, nil
}

func (p *parser) action(root *yaml.Node) *Action {
	a := &Action{File: p.file}
	sawRuns := false
	text := func(v *yaml.Node, where string) string { return p.scalar(v, where).Raw }
	p.mapping(root, "action", map[string]func(k, v *yaml.Node){
		"name":        func(_, v *yaml.Node) { a.Name = p.scalar(v, "name") },
		"description": func(_, v *yaml.Node) { a.Description = p.scalar(v, "description") },
		"author":      func(_, v *yaml.Node) { a.Author = p.scalar(v, "author") },
		"branding":    func(_, v *yaml.Node) {},
		"inputs": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			p.mapping(v, "inputs", map[string]func(k, v *yaml.Node){"*": func(k, v *yaml.Node) {
				in := &ActionInputSpec{Name: k.Value, Pos: posOf(k)}
				where := "inputs." + k.Value
				if isNull(v) {
					a.Inputs = append(a.Inputs, in)
					return
				}
				p.mapping(v, where, map[string]func(k, v *yaml.Node){
					"description":        func(_, v *yaml.Node) { in.Description = text(v, where+".description") },
					"required":           func(_, v *yaml.Node) { in.Required = p.scalar(v, where+".required") },
					"default":            func(_, v *yaml.Node) { in.Default = p.scalar(v, where+".default") },
					"deprecationMessage": func(_, v *yaml.Node) { in.DeprecationMessage = text(v, where+".deprecationMessage") },
				})
				a.Inputs = append(a.Inputs, in)
			}})
		},
		"outputs": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			p.mapping(v, "outputs", map[string]func(k, v *yaml.Node){"*": func(k, v *yaml.Node) {
				out := &ActionOutputSpec{Name: k.Value, Pos: posOf(k)}
				where := "outputs." + k.Value
				if !isNull(v) {
					p.mapping(v, where, map[string]func(k, v *yaml.Node){
						"description": func(_, v *yaml.Node) { out.Description = text(v, where+".description") },
						"value":       func(_, v *yaml.Node) { out.Value = p.scalar(v, where+".value") },
					})
				}
				a.Outputs = append(a.Outputs, out)
			}})
		},
		"runs": func(_, v *yaml.Node) { sawRuns = true; a.Runs = p.runs(v) },
	})
	if !sawRuns && resolve(root).Kind == yaml.MappingNode {
		p.errf(posOf(root), "syntax", `action: "runs" is missing`)
	}
	for _, out := range a.Outputs {
		if a.Runs.IsComposite() && !out.Value.Set {
			p.errf(out.Pos, "syntax", "outputs.%s: a composite action's output needs a \"value\"", out.Name)
		}
	}
	return a
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func (p *parser) runs(n *yaml.Node) ActionRuns {
	r := ActionRuns{Pos: posOf(n)}
	sc := func(dst *Value, name string) func(k, v *yaml.Node) {
		return func(_, v *yaml.Node) { *dst = p.scalar(v, "runs."+name) }
	}
	var stepsNode *yaml.Node
	keys := map[string]Pos{}
	known := map[string]func(k, v *yaml.Node){
		"using":           sc(&r.Using, "using"),
		"main":            sc(&r.Main, "main"),
		"pre":             sc(&r.Pre, "pre"),
		"pre-if":          sc(&r.PreIf, "pre-if"),
		"post":            sc(&r.Post, "post"),
		"post-if":         sc(&r.PostIf, "post-if"),
		"steps":           func(_, v *yaml.Node) { stepsNode = v },
		"image":           sc(&r.Image, "image"),
		"entrypoint":      sc(&r.Entrypoint, "entrypoint"),
		"pre-entrypoint":  sc(&r.PreEntrypoint, "pre-entrypoint"),
		"post-entrypoint": sc(&r.PostEntrypoint, "post-entrypoint"),
		"args":            func(_, v *yaml.Node) { r.Args = p.scalarList(v, "runs.args") },
		"env":             func(_, v *yaml.Node) { r.Env = p.kvs(v, "runs.env") },
	}
	for name, f := range known {
		name, f := name, f
		known[name] = func(k, v *yaml.Node) { keys[name] = posOf(k); f(k, v) }
	}
	p.mapping(n, "runs", known)
	if resolve(n).Kind != yaml.MappingNode {
		return r
	}
	using := strings.ToLower(r.Using.Raw)
	// Keys of another kind of action are errors, as on GitHub.
	allowed := map[string][]string{
		"composite": {"using", "steps"},
		"docker":    {"using", "image", "entrypoint", "pre-entrypoint", "post-entrypoint", "args", "env", "pre-if", "post-if"},
	}
	for v := range nodeUsing {
		allowed[v] = []string{"using", "main", "pre", "pre-if", "post", "post-if"}
	}
	switch {
	case !r.Using.Set:
		p.errf(r.Pos, "syntax", `runs: "using" is missing; expected composite, docker, node12, node16, node20 or node24`)
		return r
	case allowed[using] == nil:
		p.errf(r.Using.Pos, "syntax", "runs.using: unknown value %q; expected composite, docker, node12, node16, node20 or node24", r.Using.Raw)
		return r
	}
	ok := map[string]bool{}
	for _, k := range allowed[using] {
		ok[k] = true
	}
	for k, pos := range keys {
		if !ok[k] {
			p.errf(pos, "syntax", "runs.%s does not apply to an action that runs using %s", k, r.Using.Raw)
		}
	}
	switch {
	case r.IsNode() && !r.Main.Set:
		p.errf(r.Pos, "syntax", `runs: "main" is missing; a %s action needs the script to run`, r.Using.Raw)
	case r.IsDocker() && !r.Image.Set:
		p.errf(r.Pos, "syntax", `runs: "image" is missing; a docker action needs a Dockerfile or docker://image`)
	case r.IsComposite():
		r.Steps = p.compositeSteps(stepsNode, r.Pos)
	}
	return r
}

// compositeSteps reads a composite action's steps: a workflow step's keys
// but timeout-minutes, and shell is required next to run.
func (p *parser) compositeSteps(n *yaml.Node, runs Pos) []*Step {
	if n == nil {
		p.errf(runs, "syntax", `runs: "steps" is missing; a composite action needs steps`)
		return nil
	}
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.errf(posOf(n), "syntax", "runs.steps must be a sequence, not %s", kindName(n))
		return nil
	}
	var out []*Step
	for i, c := range n.Content {
		s := p.step(i, c, "runs.steps")
		if s.TimeoutMinutes.Set {
			p.errf(s.TimeoutMinutes.Pos, "syntax", "runs.steps step %d: \"timeout-minutes\" is not available in a composite action", i+1)
		}
		if s.Run.Set && !s.Shell.Set {
			p.errf(s.Run.Pos, "syntax", "runs.steps step %d: a composite action's run step needs \"shell\"", i+1)
		}
		out = append(out, s)
	}
	return out
}
