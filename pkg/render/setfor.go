package render

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// --- set: `{% set a, b = 1, 2 %}` unpacks, as in Jinja2.

type multiSetNode struct {
	location *tokens.Token
	names    []string
	values   []nodes.Expression
	// nested, when set, are the names' own targets: for x, (y, z) in ...
	nested []*target
}

// target is a name, or a parenthesized list of targets, to unpack into.
type target struct {
	name string
	sub  []*target
}

// parseTargets reads "a, (b, c)" up to the first token that is not part
// of it.
func parseTargets(args *parser.Parser) ([]*target, error) {
	var out []*target
	for {
		if args.Match(tokens.LeftParenthesis) != nil {
			sub, err := parseTargets(args)
			if err != nil {
				return nil, err
			}
			if args.Match(tokens.RightParenthesis) == nil {
				return nil, args.Error("expected ')'", args.Current())
			}
			out = append(out, &target{sub: sub})
		} else {
			name := args.Match(tokens.Name)
			if name == nil {
				return nil, args.Error("expected a loop variable name", args.Current())
			}
			out = append(out, &target{name: name.Val})
		}
		if args.Match(tokens.Comma) == nil {
			return out, nil
		}
	}
}

// unpack assigns v to t as Python does.
func unpack(r *exec.Renderer, t *target, v *exec.Value) error {
	if t.sub == nil {
		r.Environment.Context.Set(t.name, v.Interface())
		return nil
	}
	if !v.IsIterable() {
		return fmt.Errorf("cannot unpack non-iterable %s object", pyTypeName(v))
	}
	var items []*exec.Value
	v.Iterate(func(_, _ int, key, _ *exec.Value) bool {
		items = append(items, key)
		return true
	}, func() {})
	if len(items) > len(t.sub) {
		return fmt.Errorf("too many values to unpack (expected %d)", len(t.sub))
	}
	if len(items) < len(t.sub) {
		return fmt.Errorf("not enough values to unpack (expected %d, got %d)", len(t.sub), len(items))
	}
	for i, sub := range t.sub {
		if err := unpack(r, sub, items[i]); err != nil {
			return err
		}
	}
	return nil
}

func (n *multiSetNode) Position() *tokens.Token { return n.location }
func (n *multiSetNode) String() string {
	return fmt.Sprintf("set(%s Line=%d Col=%d)", strings.Join(n.names, ", "), n.location.Line, n.location.Col)
}

func (n *multiSetNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	var items []*exec.Value
	if len(n.values) == 1 {
		v := r.Eval(n.values[0])
		if v.IsError() {
			return v
		}
		if !v.IsIterable() {
			return fmt.Errorf("cannot unpack non-iterable %s", pyTypeName(v))
		}
		v.Iterate(func(_, _ int, key, value *exec.Value) bool {
			items = append(items, key)
			return true
		}, func() {})
	} else {
		for _, x := range n.values {
			v := r.Eval(x)
			if v.IsError() {
				return v
			}
			items = append(items, v)
		}
	}
	if len(items) > len(n.names) {
		return fmt.Errorf("too many values to unpack (expected %d)", len(n.names))
	}
	if len(items) < len(n.names) {
		return fmt.Errorf("not enough values to unpack (expected %d, got %d)", len(n.names), len(items))
	}
	for i, name := range n.names {
		if n.nested != nil && n.nested[i].sub != nil {
			if err := unpack(r, n.nested[i], items[i]); err != nil {
				return err
			}
			continue
		}
		r.Environment.Context.Set(name, items[i])
	}
	return nil
}

// setNode is {% set name = x [if cond [else y]] %} (without else the name
// is undefined, leniently: Jinja2 prints it as empty) and the block set
// with filters {% set name | f %}...{% endset %}.
type setNode struct {
	location  *tokens.Token
	name      string
	value     nodes.Expression
	condition nodes.Expression // nil: no "if"
	// alternative is the else part; without it the name is undefined
	alternative nodes.Expression
	filters     []*nodes.FilterCall
	body        *nodes.Wrapper
}

func (n *setNode) Position() *tokens.Token { return n.location }
func (n *setNode) String() string {
	return fmt.Sprintf("set(%s Line=%d Col=%d)", n.name, n.location.Line, n.location.Col)
}

func (n *setNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	var v *exec.Value
	if n.body != nil {
		var buf strings.Builder
		sub := r.Inherit()
		sub.Output = &buf
		if err := sub.ExecuteWrapper(n.body); err != nil {
			return err
		}
		v = exec.AsSafeValue(buf.String())
		ev := r.Evaluator()
		for _, f := range n.filters {
			if v = ev.ExecuteFilter(f, v); v.IsError() {
				return v
			}
		}
	} else {
		c := exec.AsValue(true)
		if n.condition != nil {
			if c = r.Eval(n.condition); c.IsError() {
				return c
			}
		}
		switch {
		case pyTruth(c):
			v = r.Eval(n.value)
		case n.alternative != nil:
			v = r.Eval(n.alternative)
		default:
			v = exec.AsValue(undefined{lenient: true})
		}
	}
	if v.IsError() {
		return v
	}
	r.Environment.Context.Set(n.name, v.Interface())
	return nil
}

// parseSet parses the set forms gonja does not know, or returns nil.
func parseSet(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	name := args.Current(tokens.Name)
	if name == nil {
		return nil, nil
	}
	switch {
	case args.Peek(tokens.Pipe) != nil:
		args.Consume()
		f, err := args.ParseFilterExpression(&nodes.Name{Name: name})
		if err != nil {
			return nil, err
		}
		if !args.End() {
			return nil, args.Error("expected the end of the 'set' tag", args.Current())
		}
		fe, _ := f.(*nodes.FilteredExpression)
		if fe == nil {
			return nil, args.Error("expected a filter", args.Current())
		}
		body, endargs, err := p.WrapUntil("endset")
		if err != nil {
			return nil, err
		}
		if !endargs.End() {
			return nil, endargs.Error("endset takes no arguments", nil)
		}
		return &setNode{location: p.Current(), name: name.Val, filters: fe.Filters, body: body}, nil
	case args.Peek(tokens.Assign) != nil:
		args.Consume()
		args.Consume()
		n := &setNode{location: p.Current(), name: name.Val}
		var err error
		if n.value, err = args.ParseExpression(); err != nil {
			return nil, err
		}
		if n.condition, n.alternative, err = args.ParseCondition(); err != nil {
			return nil, err
		}
		if !args.End() {
			return nil, args.Error("malformed 'set' tag", args.Current())
		}
		return n, nil
	}
	return nil, nil
}

func setParser(orig parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		if n, err := parseSet(p, args); n != nil || err != nil {
			return n, err
		}
		if args.Current(tokens.Name) == nil || args.Peek(tokens.Comma) == nil {
			return orig(p, args)
		}
		n := &multiSetNode{location: p.Current()}
		for {
			name := args.Match(tokens.Name)
			if name == nil {
				return nil, args.Error("expected a name to assign to", args.Current())
			}
			n.names = append(n.names, name.Val)
			if args.Match(tokens.Comma) == nil {
				break
			}
		}
		if args.Match(tokens.Assign) == nil {
			return nil, args.Error("expected '='", args.Current())
		}
		for {
			x, err := args.ParseExpression()
			if err != nil {
				return nil, err
			}
			n.values = append(n.values, x)
			if args.Match(tokens.Comma) == nil {
				break
			}
		}
		if !args.End() {
			return nil, args.Error("malformed 'set' tag", args.Current())
		}
		return n, nil
	}
}

// --- for: any number of loop targets, `for a, b, c in rows`.

const loopItem = "__runner_item"

// iterationNode starts every loop body: it counts the render's loop
// iterations and stops the render past the limit, and sets loop.depth as
// Jinja2 does (1 outside recursive loops). In strict mode it also
// makes loop.previtem on the first iteration and loop.nextitem on the last
// undefined, as Jinja2 does (gonja gives None): printing them is an error,
// `is defined` is false and default replaces them.
type iterationNode struct {
	location *tokens.Token
	max      int
	strict   bool
}

func (n *iterationNode) Position() *tokens.Token { return n.location }
func (n *iterationNode) String() string          { return "loop-budget" }

func (n *iterationNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	b := budgetOf(r.Environment.Context)
	b.iterations++
	if b.iterations > n.max {
		return fmt.Errorf("%w: more than %d loop iterations", ErrTooLarge, n.max)
	}
	v, _ := r.Environment.Context.Get("loop")
	loop, ok := v.(*controlStructures.LoopInfos)
	if !ok {
		return nil // a recursive loop: gonja's loop is a function then
	}
	// Jinja2 counts depth in recursive loops only; gonja counts nested loops
	setUnexported(loop, "depth", 1)
	setUnexported(loop, "depth0", 0)
	if !n.strict {
		return nil // lenient: Jinja2's Undefined prints as empty, like None here
	}
	// gonja's strict undefined values are errors: the defined test and the
	// default filter treat them so
	if first, _ := loop.GetAttribute("first"); first.IsTrue() {
		loop.PrevItem = exec.AsValue(errors.New("there is no previous item"))
	}
	if last, _ := loop.GetAttribute("last"); last.IsTrue() {
		loop.NextItem = exec.AsValue(errors.New("there is no next item"))
	}
	return nil
}

func (e *Engine) forParser() parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		at := args.Current()
		if at == nil || at.Line == 0 {
			at = p.Current()
		}
		targets, err := parseTargets(args)
		if err != nil {
			return nil, err
		}
		for len(targets) == 1 && targets[0].sub != nil { // for (a, b) in ...
			targets = targets[0].sub
		}
		names := make([]string, len(targets))
		var nested []*target
		for i, t := range targets {
			names[i] = t.name
			if t.sub != nil {
				nested = targets
			}
		}
		if args.Match(tokens.In) == nil {
			return nil, args.Error("expected keyword 'in'", args.Current())
		}
		cs := &controlStructures.ForControlStructure{}
		switch {
		case nested != nil:
			cs.Key = loopItem
		case len(names) == 1:
			cs.Key = names[0]
		default:
			// unpacked from the item, as Python does (gonja's own two-name
			// form gives a mapping's keys and values, and loop.previtem
			// as a pair instead of the item)
			cs.Key = loopItem
		}
		obj, err := args.ParseExpression()
		if err != nil {
			return nil, err
		}
		cs.ObjectEvaluator = obj
		if args.MatchName("if") != nil {
			if cs.IfCondition, err = args.ParseExpression(); err != nil {
				return nil, err
			}
		}
		cs.Recursive = args.MatchName("recursive") != nil
		if !args.End() {
			return nil, args.Error("malformed for-loop arguments", args.Current())
		}
		body, endargs, err := p.WrapUntil("else", "endfor")
		if err != nil {
			return nil, err
		}
		if !endargs.End() {
			return nil, endargs.Error("arguments not allowed here", endargs.Current())
		}
		cs.BodyWrapper = body
		if body.EndTag == "else" {
			if cs.EmptyWrapper, endargs, err = p.WrapUntil("endfor"); err != nil {
				return nil, err
			}
			if !endargs.End() {
				return nil, endargs.Error("arguments not allowed here", endargs.Current())
			}
		}
		prefix := []nodes.Node{&nodes.ControlStructureBlock{Location: at, Name: "for", ControlStructure: &iterationNode{location: at, max: e.opts.MaxIterations, strict: !e.opts.Lenient}}}
		if cs.Key == loopItem {
			item := *at
			item.Type, item.Val = tokens.Name, loopItem
			unpack := &multiSetNode{location: at, names: names, nested: nested, values: []nodes.Expression{&nodes.Name{Name: &item}}}
			prefix = append(prefix, &nodes.ControlStructureBlock{Location: at, Name: "set", ControlStructure: unpack})
		}
		body.Nodes = append(prefix, body.Nodes...)
		return cs, nil
	}
}

// setUnexported sets an unexported int field of a gonja struct, which has
// no setter for it.
func setUnexported(ptr any, field string, value int) {
	f := reflect.ValueOf(ptr).Elem().FieldByName(field)
	if f.IsValid() && f.Kind() == reflect.Int {
		reflect.NewAt(f.Type(), f.Addr().UnsafePointer()).Elem().SetInt(int64(value))
	}
}
