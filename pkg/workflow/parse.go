package workflow

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds a workflow file; GitHub's own limit is far below it.
const MaxFileSize = 1 << 20

// Parse reads a workflow file. It returns every problem it finds at once:
// YAML syntax, unknown or duplicate keys, and values of the wrong shape.
// Semantic checks (needs, expressions, uses) are Validate's job.
func Parse(file string, data []byte) (*Workflow, Errors) {
	p := &parser{file: file}
	root := p.document(data, "workflow")
	if root == nil {
		return nil, p.errs
	}
	w := p.workflow(root)
	w.root = root
	canonicalNeeds(w)
	p.errs.sort()
	if len(p.errs) > 0 {
		return w, p.errs
	}
	return w, nil
}

// document reads a YAML file (a workflow or an action's metadata, what
// names it in errors) and returns its root node, or nil after reporting
// why there is none: too large, empty, not YAML.
func (p *parser) document(data []byte, what string) *yaml.Node {
	if len(data) > MaxFileSize {
		p.errf(Pos{1, 1}, "syntax", "file is %d bytes; the limit is %d", len(data), MaxFileSize)
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		p.errf(Pos{1, 1}, "syntax", "%s is empty", what)
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.yamlError(err, data)
		return nil
	}
	if len(doc.Content) == 0 {
		p.errf(Pos{1, 1}, "syntax", "%s is empty", what)
		return nil
	}
	p.lines = bytes.Split(data, []byte("\n"))
	return doc.Content[0]
}

type parser struct {
	file  string
	errs  Errors
	lines [][]byte // the source, for the indentation of block scalars
	// walked are the mappings read so far; one read again through an
	// alias reports nothing (mute > 0): its problems were reported once,
	// at the anchor.
	walked map[*yaml.Node]bool
	mute   int
}

func (p *parser) errf(pos Pos, kind, format string, args ...any) {
	if p.mute > 0 {
		return
	}
	p.errs = append(p.errs, &Error{File: p.file, Pos: pos, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

func posOf(n *yaml.Node) Pos { return Pos{n.Line, n.Column} }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return "a scalar"
}

// resolve follows aliases so that anchors work like in GitHub.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapping walks a mapping node, reporting unknown and duplicate keys. Keys
// are matched exactly (GitHub's keys are case-sensitive).
func (p *parser) mapping(n *yaml.Node, where string, known map[string]func(k, v *yaml.Node)) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errf(posOf(n), "syntax", "%s must be a mapping, not %s", where, kindName(n))
		return
	}
	if p.walked == nil {
		p.walked = map[*yaml.Node]bool{}
	}
	if p.walked[n] {
		p.mute++
		defer func() { p.mute-- }()
	}
	p.walked[n] = true
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errf(posOf(k), "syntax", "%s: keys must be scalars", where)
			continue
		}
		// Keys computed by expressions (and ${{ insert }}, which may
		// appear more than once) are compared after evaluation.
		if seen[k.Value] && !strings.Contains(k.Value, "${{") {
			p.errf(posOf(k), "syntax", "%s: key %q is duplicated", where, k.Value)
			continue
		}
		seen[k.Value] = true
		f, ok := known[k.Value]
		if !ok {
			f, ok = known["*"]
		}
		if !ok {
			hint := didYouMean(k.Value, keyNames(known))
			if hint == "" {
				hint = "; expected one of " + keyList(known)
			}
			p.errf(posOf(k), "unknown-key", "unknown key %q in %s%s", k.Value, where, hint)
			continue
		}
		f(k, v)
	}
}

func keyList(known map[string]func(k, v *yaml.Node)) string {
	return strings.Join(keyNames(known), ", ")
}

func keyNames(known map[string]func(k, v *yaml.Node)) []string {
	keys := make([]string, 0, len(known))
	for k := range known {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// scalar reads a scalar value. Numbers and booleans keep their source text.
func (p *parser) scalar(n *yaml.Node, where string) Value {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		p.errf(posOf(n), "syntax", "%s must be a scalar, not %s", where, kindName(n))
		return Value{Pos: posOf(n), Set: true}
	}
	if n.Tag == "!!null" {
		return Value{Pos: posOf(n), Set: true}
	}
	return Value{Raw: n.Value, Pos: posOf(n), Set: true, Quoted: quoted(n), Indent: p.blockIndent(n), Folded: p.foldedLines(n)}
}

// foldedLines places the lines of a folded block scalar when its value is
// exactly those lines, without their indentation, joined by spaces (no
// blank or more-indented line, which YAML folds differently), else an
// empty non-nil slice (a folded scalar that cannot be placed); nil for
// other scalars.
func (p *parser) foldedLines(n *yaml.Node) []Span {
	if n.Style&yaml.FoldedStyle == 0 {
		return nil
	}
	var spans []Span
	var texts []string
	for l := n.Line; l < len(p.lines); l++ { // p.lines[n.Line] is the line after the ">"
		line := string(bytes.TrimRight(p.lines[l], "\r"))
		text := strings.TrimLeft(line, " ")
		if text == "" {
			break
		}
		col := len(line) - len(text) + 1
		if len(spans) > 0 && col != spans[0].Col {
			break // the block ended (a shallower line) or a more-indented line
		}
		spans = append(spans, Span{Pos: Pos{Line: l + 1, Col: col}, Len: len(strings.TrimRight(text, " "))})
		texts = append(texts, strings.TrimRight(text, " "))
		if strings.Join(texts, " ") == strings.TrimRight(n.Value, "\n") {
			return spans
		}
	}
	return []Span{}
}

// blockIndent is the column of a literal block scalar's lines: the
// indentation of its first line that is not blank.
func (p *parser) blockIndent(n *yaml.Node) int {
	if n.Style&yaml.LiteralStyle == 0 {
		return 0
	}
	for l := n.Line; l < len(p.lines); l++ { // n.Line is 1-based: p.lines[n.Line] is the next line
		line := bytes.TrimRight(p.lines[l], "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return len(line) - len(bytes.TrimLeft(line, " ")) + 1
	}
	return 0
}

func quoted(n *yaml.Node) bool {
	return n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0
}

// scalarList reads a scalar or a sequence of scalars.
func (p *parser) scalarList(n *yaml.Node, where string) []Value {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			return nil
		}
		return []Value{p.scalar(n, where)}
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(posOf(n), "syntax", "%s must be a string or a list of strings, not %s", where, kindName(n))
		return nil
	}
	out := make([]Value, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, p.scalar(c, where))
	}
	return out
}

// kvs reads a mapping of scalars (env, with, outputs), keeping its order.
func (p *parser) kvs(n *yaml.Node, where string) []KV {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	var out []KV
	p.mapping(n, where, map[string]func(k, v *yaml.Node){"*": func(k, v *yaml.Node) {
		out = append(out, KV{Key: k.Value, Value: p.scalar(v, where+"."+k.Value), KeyPos: posOf(k), KeyQuoted: quoted(k)})
	}})
	return out
}

func (p *parser) workflow(root *yaml.Node) *Workflow {
	w := &Workflow{File: p.file}
	var sawOn, sawJobs bool
	p.mapping(root, "workflow", map[string]func(k, v *yaml.Node){
		"name":        func(_, v *yaml.Node) { w.Name = p.scalar(v, "name") },
		"run-name":    func(_, v *yaml.Node) { w.RunName = p.scalar(v, "run-name") },
		"on":          func(_, v *yaml.Node) { sawOn = true; w.On = p.triggers(v) },
		"env":         func(_, v *yaml.Node) { w.Env = p.env(v, "env") },
		"defaults":    func(_, v *yaml.Node) { w.Defaults = p.defaults(v, "defaults") },
		"concurrency": func(_, v *yaml.Node) { w.Concurrency = p.concurrency(v, "concurrency") },
		"permissions": func(_, v *yaml.Node) { w.Permissions = v },
		"jobs": func(_, v *yaml.Node) {
			sawJobs = true
			p.mapping(v, "jobs", map[string]func(k, v *yaml.Node){"*": func(k, v *yaml.Node) {
				w.Jobs = append(w.Jobs, p.job(k, v))
			}})
		},
	})
	rp := posOf(root)
	if resolve(root).Kind == yaml.MappingNode {
		if !sawOn {
			p.errf(rp, "syntax", `"on" section is missing`)
		}
		if !sawJobs {
			p.errf(rp, "syntax", `"jobs" section is missing`)
		} else if len(w.Jobs) == 0 {
			p.errf(rp, "syntax", `"jobs" section has no jobs`)
		}
	}
	return w
}

func (p *parser) defaults(n *yaml.Node, where string) Defaults {
	var d Defaults
	p.mapping(n, where, map[string]func(k, v *yaml.Node){
		"run": func(_, v *yaml.Node) {
			p.mapping(v, where+".run", map[string]func(k, v *yaml.Node){
				"shell":             func(_, v *yaml.Node) { d.Shell = p.scalar(v, where+".run.shell") },
				"working-directory": func(_, v *yaml.Node) { d.WorkingDirectory = p.scalar(v, where+".run.working-directory") },
			})
		},
	})
	return d
}

func (p *parser) concurrency(n *yaml.Node, where string) *Concurrency {
	c := &Concurrency{}
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		c.Group = p.scalar(n, where)
		return c
	}
	p.mapping(n, where, map[string]func(k, v *yaml.Node){
		"group":              func(_, v *yaml.Node) { c.Group = p.scalar(v, where+".group") },
		"cancel-in-progress": func(_, v *yaml.Node) { c.CancelInProgress = p.scalar(v, where+".cancel-in-progress") },
	})
	if !c.Group.Set {
		p.errf(posOf(n), "syntax", "%s needs a group", where)
	}
	return c
}

var jobIDPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func (p *parser) job(k, v *yaml.Node) *Job {
	j := &Job{ID: k.Value, Pos: posOf(k), node: resolve(v)}
	if !jobIDPattern.MatchString(j.ID) {
		p.errf(j.Pos, "job-id", "job id %q must start with a letter or _ and contain only letters, digits, - and _", j.ID)
	}
	where := "job " + j.ID
	var usesPos Pos
	var reusableKey []*yaml.Node
	p.mapping(v, where, map[string]func(k, v *yaml.Node){
		"name":  func(_, v *yaml.Node) { j.Name = p.scalar(v, where+".name") },
		"needs": func(_, v *yaml.Node) { j.Needs = p.scalarList(v, where+".needs") },
		"if":    func(_, v *yaml.Node) { j.If = p.scalar(v, where+".if") },
		"runs-on": func(_, v *yaml.Node) {
			v = resolve(v)
			if v.Kind == yaml.MappingNode {
				p.mapping(v, where+".runs-on", map[string]func(k, v *yaml.Node){
					"group":  func(_, v *yaml.Node) { j.RunsOnGroup = p.scalar(v, where+".runs-on.group") },
					"labels": func(_, v *yaml.Node) { j.RunsOn = p.scalarList(v, where+".runs-on.labels") },
				})
				return
			}
			j.RunsOn = p.scalarList(v, where+".runs-on")
		},
		"env":               func(_, v *yaml.Node) { j.Env = p.env(v, where+".env") },
		"defaults":          func(_, v *yaml.Node) { j.Defaults = p.defaults(v, where+".defaults") },
		"outputs":           func(_, v *yaml.Node) { j.Outputs = p.kvs(v, where+".outputs") },
		"strategy":          func(_, v *yaml.Node) { j.Strategy = p.strategy(v, where+".strategy") },
		"timeout-minutes":   func(_, v *yaml.Node) { j.TimeoutMinutes = p.scalar(v, where+".timeout-minutes") },
		"continue-on-error": func(_, v *yaml.Node) { j.ContinueOnError = p.scalar(v, where+".continue-on-error") },
		"concurrency":       func(_, v *yaml.Node) { j.Concurrency = p.concurrency(v, where+".concurrency") },
		"permissions":       func(_, v *yaml.Node) { j.Permissions = v },
		"environment":       func(_, v *yaml.Node) {},
		"snapshot":          func(k, v *yaml.Node) { p.snapshot(k, v, where+".snapshot") }, // a custom image to save: nothing to run
		"steps": func(_, v *yaml.Node) {
			v = resolve(v)
			if v.Kind != yaml.SequenceNode {
				p.errf(posOf(v), "syntax", "%s.steps must be a sequence, not %s", where, kindName(v))
				return
			}
			for i, s := range v.Content {
				j.Steps = append(j.Steps, p.step(i, s, where))
			}
		},
		"container": func(k, v *yaml.Node) { j.Container = p.container(k, v, where+".container") },
		"services":  func(_, v *yaml.Node) { j.Services = p.services(v, where+".services") },
		"uses":      func(k, _ *yaml.Node) { usesPos = posOf(k) },
		// with and secrets belong to uses; alone they are reported below.
		"with":    func(k, _ *yaml.Node) { reusableKey = append(reusableKey, k) },
		"secrets": func(k, _ *yaml.Node) { reusableKey = append(reusableKey, k) },
	})
	j.calls = usesPos.Line > 0
	if usesPos.Line > 0 {
		// A reusable-workflow call has no runs-on or steps of its own.
		p.callJob(j, v, where)
		return j
	}
	for _, k := range reusableKey {
		p.errf(posOf(k), "syntax", "%s: %q only applies to a job that calls a reusable workflow with \"uses\"", where, k.Value)
	}
	if len(j.RunsOn) == 0 && !j.RunsOnGroup.Set {
		p.errf(j.Pos, "syntax", "%s: \"runs-on\" is missing", where)
	}
	if len(j.Steps) == 0 {
		p.errf(j.Pos, "syntax", "%s: \"steps\" is missing or empty", where)
	}
	return j
}

// snapshot checks jobs.<id>.snapshot (GitHub's custom images): an image
// name, or {image-name, version, if}. runner saves no image.
func (p *parser) snapshot(key, n *yaml.Node, where string) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		if strings.TrimSpace(n.Value) == "" {
			p.errf(posOf(n), "syntax", "%s: the image name is empty", where)
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errf(posOf(n), "syntax", "%s must be an image name or a mapping, not %s", where, kindName(n))
		return
	}
	var name bool
	p.mapping(n, where, map[string]func(k, v *yaml.Node){
		"image-name": func(_, v *yaml.Node) { name = true; p.nonEmpty(v, where+".image-name") },
		"version":    func(_, v *yaml.Node) { p.nonEmpty(v, where+".version") },
		"if":         func(_, v *yaml.Node) { p.scalar(v, where+".if") },
	})
	if !name {
		p.errf(posOf(key), "syntax", "%s needs image-name", where)
	}
}

func (p *parser) nonEmpty(n *yaml.Node, where string) {
	if v := p.scalar(n, where); strings.TrimSpace(v.Raw) == "" {
		pos := v.Pos
		if v.Quoted {
			pos.Col++
		}
		p.errf(pos, "syntax", "%s is empty", where)
	}
}

func (p *parser) strategy(n *yaml.Node, where string) *Strategy {
	s := &Strategy{Pos: posOf(n)}
	p.mapping(n, where, map[string]func(k, v *yaml.Node){
		"matrix": func(_, v *yaml.Node) {
			if p.checkMatrix(v, where+".matrix") {
				s.Matrix = v
			}
		},
		"fail-fast":    func(_, v *yaml.Node) { s.FailFast = p.scalar(v, where+".fail-fast") },
		"max-parallel": func(_, v *yaml.Node) { s.MaxParallel = p.scalar(v, where+".max-parallel") },
	})
	return s
}

// checkMatrix checks the matrix's shape. Values may be expressions, which
// are only known at run time. It reports whether the shape is right.
func (p *parser) checkMatrix(n *yaml.Node, where string) bool {
	before := len(p.errs)
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		if !strings.Contains(n.Value, "${{") {
			p.errf(posOf(n), "matrix", "%s must be a mapping or an expression, not %q", where, n.Value)
		}
		return len(p.errs) == before
	}
	listOfMaps := func(k, v *yaml.Node) {
		v = resolve(v)
		if v.Kind == yaml.ScalarNode && strings.Contains(v.Value, "${{") {
			return
		}
		if v.Kind != yaml.SequenceNode {
			p.errf(posOf(v), "matrix", "%s.%s must be a list of mappings", where, k.Value)
			return
		}
		for _, c := range v.Content {
			if c := resolve(c); c.Kind != yaml.MappingNode && !(c.Kind == yaml.ScalarNode && strings.Contains(c.Value, "${{")) {
				p.errf(posOf(c), "matrix", "%s.%s entries must be mappings, not %s", where, k.Value, kindName(c))
			}
		}
	}
	p.mapping(n, where, map[string]func(k, v *yaml.Node){
		"include": listOfMaps,
		"exclude": listOfMaps,
		"*": func(k, v *yaml.Node) {
			v = resolve(v)
			if insert, bad := p.insertKey(k, where); bad {
				return
			} else if insert {
				p.matrixInsert(v, where)
				return
			}
			switch {
			case v.Kind == yaml.SequenceNode:
				if len(v.Content) == 0 {
					p.errf(posOf(v), "matrix", "%s.%s is an empty list", where, k.Value)
				}
			case v.Kind == yaml.ScalarNode && strings.Contains(v.Value, "${{"):
			default:
				p.errf(posOf(v), "matrix", "%s.%s must be a list, not %s", where, k.Value, kindName(v))
			}
		},
	})
	return len(p.errs) == before
}

func (p *parser) step(i int, n *yaml.Node, job string) *Step {
	s := &Step{Index: i, Pos: posOf(n), node: resolve(n)}
	where := fmt.Sprintf("%s step %d", job, i+1)
	keys := map[string]Pos{} // where each key is, for the errors below
	sc := func(dst *Value, name string) func(k, v *yaml.Node) {
		return func(k, v *yaml.Node) { keys[name] = posOf(k); *dst = p.scalar(v, where+"."+name) }
	}
	p.mapping(n, where, map[string]func(k, v *yaml.Node){
		"id":                sc(&s.ID, "id"),
		"name":              sc(&s.Name, "name"),
		"if":                sc(&s.If, "if"),
		"run":               sc(&s.Run, "run"),
		"shell":             sc(&s.Shell, "shell"),
		"working-directory": sc(&s.WorkingDirectory, "working-directory"),
		"uses":              sc(&s.Uses, "uses"),
		"with":              func(k, v *yaml.Node) { keys["with"] = posOf(k); s.With = p.kvs(v, where+".with") },
		"env":               func(_, v *yaml.Node) { s.Env = p.env(v, where+".env") },
		"continue-on-error": sc(&s.ContinueOnError, "continue-on-error"),
		"timeout-minutes":   sc(&s.TimeoutMinutes, "timeout-minutes"),
	})
	// Each error sits on the key that is wrong where there is one: the
	// later of run and uses, shell or working-directory, with.
	later := func(a, b string) Pos {
		if pa, pb := keys[a], keys[b]; pb.Line > pa.Line || pb.Line == pa.Line && pb.Col > pa.Col {
			return pb
		}
		return keys[a]
	}
	switch {
	case s.Run.Set && s.Uses.Set:
		p.errf(later("run", "uses"), "syntax", "%s has both \"run\" and \"uses\"; a step is one or the other", where)
	case !s.Run.Set && !s.Uses.Set:
		p.errf(s.Pos, "syntax", "%s needs \"run\" or \"uses\"", where)
	case s.Uses.Set && (s.Shell.Set || s.WorkingDirectory.Set):
		pos, ok := keys["shell"]
		if !ok {
			pos = keys["working-directory"]
		}
		p.errf(pos, "syntax", "%s: \"shell\" and \"working-directory\" only apply to \"run\" steps", where)
	case s.Run.Set && len(s.With) > 0:
		p.errf(keys["with"], "syntax", "%s: \"with\" only applies to \"uses\" steps", where)
	}
	return s
}

// canonicalNeeds spells each needs entry as the job it names: GitHub
// compares job ids case-insensitively (needs: build names job Build), and
// everything after parsing (validation, the job graph, the engine) looks
// jobs up by their id as written in jobs:.
func canonicalNeeds(w *Workflow) {
	ids := map[string]string{}
	for _, j := range w.Jobs {
		ids[strings.ToLower(j.ID)] = j.ID
	}
	for _, j := range w.Jobs {
		for i, n := range j.Needs {
			if id, ok := ids[strings.ToLower(n.Raw)]; ok {
				j.Needs[i].Raw = id
			}
		}
	}
}
