package workflow

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// operand is what is known of one side of a comparison: its possible
// values (vals), or only that it is an object or an array (kind).
type operand struct {
	vals  []any
	kind  string // "an object", "an array"; "" when vals are known
	desc  string // what it is, for messages: "one of \"linux\", \"mac\""
	fixed bool   // a literal: nothing in it depends on the run
	// legs: the values a matrix key takes in the legs written today. A
	// comparison with a value of the same kind that no leg has (matrix.os
	// == 'windows') is left alone: workflows keep such steps for legs
	// they add and remove; only a mismatch of types is reported.
	legs bool
	off  int
}

// ruleCompareTypes reports comparisons whose result does not depend on
// the run, because of the types or the known values of what is compared,
// with GitHub's coercions (a string compared with a number or a boolean
// is converted to a number; an object or array equals only itself):
// matrix.os == 1 where every matrix.os is a string that is not a number,
// steps.x.outputs == 'a' (an object and a string), inputs.flag == 'true'
// for a boolean input (true is 1, 'true' is not a number),
// github.event.inputs.flag == true (those are strings), fromJSON('[1]') ==
// 1. Only comparisons that are always true or always false are
// reported; ruleCompare covers properties with a fixed set of strings.
func ruleCompareTypes() *rule {
	var w *Workflow
	// The values each matrix key takes in the job's legs, computed on
	// the first comparison with matrix.<key>; nil: not known.
	var job *Job
	var legs map[string][]any
	jobLegs := func(v *validator, e *exprNode) map[string][]any {
		if e.job == nil || v.action != nil {
			return nil
		}
		if e.job != job {
			job, legs = e.job, matrixLegValues(v, e.job)
		}
		return legs
	}
	return &rule{
		workflow: func(_ *validator, wf *Workflow) { w = wf },
		expr: func(v *validator, e *exprNode) {
			legs := func() map[string][]any { return jobLegs(v, e) }
			for _, n := range e.nodes {
				for _, c := range expr.Comparisons(n) {
					l := typeOperand(v, w, e, legs, c.Left)
					r := typeOperand(v, w, e, legs, c.Right)
					if l == nil || r == nil || l.fixed && r.fixed {
						continue
					}
					result, ok := certain(c.Op, l, r)
					if !ok || (l.legs || r.legs) && sameKindPair(l.vals, r.vals) {
						continue
					}
					at, what := l, c.Left
					if l.fixed {
						at, what = r, c.Right
					}
					v.errf(offsetPos(e.val, at.off), "compare-types", "%s: %s is %s, so %s %s %s is always %t%s",
						e.where, what.String(), at.desc, c.Left.String(), c.Op, c.Right.String(), result, compareHint(l, r, c))
				}
			}
		},
	}
}

// certain evaluates a comparison over every pair of possible values and
// tells whether it always gives the same result. An object or an array
// compared with values that are neither is never equal to them.
func certain(op string, l, r *operand) (bool, bool) {
	if l.kind != "" || r.kind != "" {
		known := l
		if l.kind != "" {
			known = r
		}
		if known.kind != "" || !allPrimitive(known.vals) {
			return false, false
		}
		return op == "!=", true
	}
	if !allPrimitive(l.vals) && !allPrimitive(r.vals) || len(l.vals) == 0 || len(r.vals) == 0 {
		return false, false // objects compare by identity: not known here
	}
	first := expr.Compare(op, l.vals[0], r.vals[0])
	for _, a := range l.vals {
		for _, b := range r.vals {
			if expr.Compare(op, a, b) != first {
				return false, false
			}
		}
	}
	return first, true
}

// sameKindPair tells whether some value of one side has the kind of some
// value of the other (null aside): then the comparison is about values,
// not types.
func sameKindPair(l, r []any) bool {
	for _, a := range l {
		for _, b := range r {
			if a != nil && b != nil && expr.KindOf(a) == expr.KindOf(b) {
				return true
			}
		}
	}
	return false
}

func allPrimitive(vals []any) bool {
	for _, x := range vals {
		switch x.(type) {
		case nil, bool, float64, string:
		default:
			return false
		}
	}
	return true
}

// compareHint suggests the fix for the usual mistakes.
func compareHint(l, r *operand, c expr.Comparison) string {
	for _, pair := range [][2]*operand{{l, r}, {r, l}} {
		a, b := pair[0], pair[1]
		if a.kind == "an object" {
			return "; compare one of its properties, or toJSON() of it"
		}
		if a.kind == "an array" {
			return "; contains() searches an array"
		}
		if len(b.vals) == 1 && b.fixed {
			switch lit := b.vals[0].(type) {
			case string:
				if isBools(a.vals) && (strings.EqualFold(lit, "true") || strings.EqualFold(lit, "false")) {
					return fmt.Sprintf("; compare with %s (a boolean), not '%s'", strings.ToLower(lit), lit)
				}
			case bool:
				if isStrings(a.vals) {
					return fmt.Sprintf("; these are strings: compare with '%t'", lit)
				}
			}
		}
	}
	return ""
}

func isBools(vals []any) bool {
	for _, x := range vals {
		if _, ok := x.(bool); !ok && x != nil {
			return false
		}
	}
	return len(vals) > 0
}

func isStrings(vals []any) bool {
	for _, x := range vals {
		if _, ok := x.(string); !ok && x != nil {
			return false
		}
	}
	return len(vals) > 0
}

// typeOperand finds what is known of one side of a comparison, or nil.
func typeOperand(v *validator, w *Workflow, e *exprNode, legs func() map[string][]any, n expr.Node) *operand {
	if lit, ok := expr.LiteralValue(n); ok {
		return &operand{vals: []any{lit}, fixed: true, off: n.Offset(), desc: n.String()}
	}
	if expr.IsBoolean(n) {
		return &operand{vals: []any{true, false}, off: n.Offset(), desc: "a boolean"}
	}
	if name, args, ok := expr.CallOf(n); ok {
		switch name {
		case "contains", "startswith", "endswith", "success", "always", "failure", "cancelled":
			return &operand{vals: []any{true, false}, off: n.Offset(), desc: "a boolean"}
		case "fromjson":
			if len(args) != 1 {
				return nil
			}
			src, ok := expr.LiteralValue(args[0])
			s, isStr := src.(string)
			if !ok || !isStr {
				return nil
			}
			val, err := expr.Eval(n, &expr.Env{})
			if err != nil {
				return nil // ruleFuncs reports JSON that does not parse
			}
			switch val.(type) {
			case *expr.Object:
				return &operand{kind: "an object", off: n.Offset(), desc: "an object"}
			case []any:
				return &operand{kind: "an array", off: n.Offset(), desc: "an array"}
			}
			return &operand{vals: []any{val}, off: n.Offset(), desc: s}
		}
		return nil
	}
	p, ok := bareAccess(expr.Unwrap(n))
	if !ok {
		return nil
	}
	segs := p.Segments
	if kind, ok := comparedObject(v, e, segs, p.Text); ok {
		return &operand{kind: kind, off: p.Offset, desc: kind}
	}
	switch {
	case len(segs) == 2 && segs[0] == "matrix" && segs[1] != "*":
		vals, ok := legs()[strings.ToLower(segs[1])]
		if !ok {
			return nil // ruleRefMatrix reports an unknown key
		}
		return &operand{vals: vals, off: p.Offset, desc: describeValues(vals), legs: true}
	case len(segs) == 2 && segs[0] == "inputs" && segs[1] != "*" && v.action == nil && w != nil:
		vals := inputValues(w, segs[1], false)
		if vals == nil {
			return nil
		}
		return &operand{vals: vals, off: p.Offset, desc: describeValues(vals)}
	case len(segs) == 4 && segs[0] == "github" && segs[1] == "event" && segs[2] == "inputs" && segs[3] != "*" && v.action == nil && w != nil:
		vals := inputValues(w, segs[3], true)
		if vals == nil {
			return nil
		}
		return &operand{vals: vals, off: p.Offset, desc: describeValues(vals)}
	}
	return nil
}

// comparedObject tells whether an access always gives an object or an
// array, whatever the run: a context that is always set, github.event,
// steps.<id> and its outputs for a step that runs before, needs.<id> and
// its outputs for a job in needs, and any .* filter.
func comparedObject(v *validator, e *exprNode, segs []string, text string) (string, bool) {
	if strings.Contains(text, ".*") || strings.Contains(text, "[*]") {
		return "an array", true
	}
	switch {
	case len(segs) == 1:
		switch segs[0] {
		case "github", "env", "steps", "needs", "runner", "job", "strategy", "secrets", "vars":
			return "an object", true
		}
	case len(segs) == 2 && segs[0] == "github" && segs[1] == "event":
		return "an object", true
	case (len(segs) == 2 || len(segs) == 3 && segs[2] == "outputs") && segs[0] == "steps" && e.job != nil:
		before := e.job.Steps // job and action outputs see every step
		if e.step != nil {
			before = before[:e.step.Index]
		}
		for _, s := range before {
			if s.ID.Set && strings.EqualFold(s.ID.Raw, segs[1]) {
				return "an object", true
			}
		}
	case (len(segs) == 2 || len(segs) == 3 && segs[2] == "outputs") && segs[0] == "needs" && e.job != nil && v.action == nil:
		for _, n := range e.job.Needs {
			if strings.EqualFold(n.Raw, segs[1]) {
				return "an object", true
			}
		}
	}
	return "", false
}

// describeValues lists possible values for a message.
func describeValues(vals []any) string {
	var parts []string
	for i, x := range vals {
		if i == 6 {
			parts = append(parts, "…")
			break
		}
		switch t := x.(type) {
		case string:
			parts = append(parts, fmt.Sprintf("'%s'", strings.ReplaceAll(t, "'", "''")))
		case nil:
			parts = append(parts, "null")
		default:
			parts = append(parts, compactJSON(t))
		}
	}
	if len(vals) == 1 {
		return "always " + parts[0]
	}
	return "one of " + strings.Join(parts, ", ")
}

// matrixLegValues are the values each key of a written-out matrix takes
// in its legs (null in a leg without the key), lower-cased keys; nil when
// the matrix is built by expressions or its legs are not computed.
func matrixLegValues(v *validator, j *Job) map[string][]any {
	if v.opts.NoMatrixLegs || j.Strategy == nil || j.Strategy.Matrix == nil {
		return nil
	}
	combos, err := v.matrixOf(j).legs()
	if err != nil {
		return nil
	}
	keys := map[string]bool{}
	for _, c := range combos {
		for _, k := range c.Keys {
			keys[strings.ToLower(k)] = true
		}
	}
	out := map[string][]any{}
	for k := range keys {
		seen := map[string]bool{}
		for _, c := range combos {
			var val any
			for _, ck := range c.Keys {
				if strings.ToLower(ck) == k {
					val = c.Values[ck]
				}
			}
			id := fmt.Sprintf("%T:%s", val, compactJSON(val))
			if !seen[id] {
				seen[id] = true
				out[k] = append(out[k], val)
			}
		}
	}
	return out
}

// inputValues are the values an input can take when they are a known
// few: a boolean input (true or false in inputs, the strings 'true' and
// 'false' in github.event.inputs, which holds the dispatch's payload) or
// a choice input (its options), and null when another event starts the
// workflow. nil when not known: other types, an input declared with
// different types, or github.event.inputs in a workflow that can be
// called (its event is the caller's).
func inputValues(w *Workflow, name string, event bool) []any {
	var types []string
	var options []string
	if w.On.Dispatch != nil {
		for _, in := range w.On.Dispatch.Inputs {
			if strings.EqualFold(in.Name, name) {
				types = append(types, strings.ToLower(in.Type))
				options = in.Options
			}
		}
	}
	called := w.On.Has("workflow_call")
	if called {
		if event {
			return nil
		}
		call := eventNode(w.On, "workflow_call")
		if ins := mappingValue(call, "inputs"); ins != nil && ins.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(ins.Content); i += 2 {
				if strings.EqualFold(ins.Content[i].Value, name) {
					t := mappingValue(ins.Content[i+1], "type")
					if t == nil {
						return nil
					}
					types = append(types, strings.ToLower(t.Value))
				}
			}
		}
	}
	if len(types) == 0 {
		return nil
	}
	for _, t := range types[1:] {
		if t != types[0] {
			return nil
		}
	}
	var vals []any
	switch {
	case types[0] == "boolean" && event:
		vals = []any{"true", "false"}
	case types[0] == "boolean":
		vals = []any{true, false}
	case types[0] == "choice" && len(options) > 0:
		for _, o := range options {
			vals = append(vals, o)
		}
	default:
		return nil
	}
	for _, ev := range w.On.Events {
		if ev != "workflow_dispatch" && ev != "workflow_call" {
			vals = append(vals, nil)
			break
		}
	}
	return vals
}
