package render

import (
	"fmt"
	"io"
	"strings"

	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// --- macro: nested calls are bounded, so self-recursion fails cleanly
// instead of overflowing the goroutine stack (a fatal, unrecoverable error).

type macroNode struct {
	nodes.ControlStructure
	macro *nodes.Macro
	max   int
}

func (n *macroNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	fn, err := boundMacro(n.macro, r, n.max)
	if err != nil {
		return err
	}
	r.Environment.Context.Set(n.macro.Name, fn)
	return nil
}

// boundMacro makes a macro callable, counting nested calls per render.
func boundMacro(m *nodes.Macro, r *exec.Renderer, max int) (pyMacro, error) {
	fn, err := exec.MacroNodeToFunc(m, r)
	if err != nil {
		return nil, fmt.Errorf("macro %s: %w", m.Name, err)
	}
	b := budgetOf(r.Environment.Context)
	name := m.Name
	info := map[string]any{"name": name, "catch_varargs": m.VarArgsName != "", "catch_kwargs": m.KwArgsName != ""}
	var args []any
	for _, p := range m.Kwargs {
		args = append(args, r.Eval(p.Key).String())
	}
	info["arguments"] = pyTuple(args)
	return func(params *exec.VarArgs) *exec.Value {
		if _, ok := params.KwArgs[macroInfoKey]; ok {
			return exec.AsValue(info)
		}
		if m.KwArgsName == "" {
			delete(params.KwArgs, kwOrderKey) // gonja would refuse the keyword
		}
		if b.calls >= max {
			return exec.AsValue(fmt.Errorf("%w: more than %d nested macro calls (macro %s calls itself?)", ErrRecursion, max, name))
		}
		b.calls++
		defer func() { b.calls-- }()
		if err := bindDefaults(m, r, params); err != nil {
			return exec.AsValue(err)
		}
		return fn(params)
	}, nil
}

// pyMacro is a macro as a template value: callable, and with Jinja2's
// attributes name, arguments, catch_varargs and catch_kwargs.
type pyMacro func(params *exec.VarArgs) *exec.Value

// macroInfoKey asks a pyMacro for its attributes; no template can pass a
// keyword argument of that name.
const macroInfoKey = "\x00info"

func (m pyMacro) GetAttribute(name string) (*exec.Value, bool) {
	info, _ := m(&exec.VarArgs{KwArgs: map[string]*exec.Value{macroInfoKey: nil}}).Interface().(map[string]any)
	v, ok := info[name]
	if !ok {
		return exec.AsValue(nil), false
	}
	return exec.AsValue(v), true
}

// bindDefaults evaluates the defaults of the parameters a call leaves out,
// left to right with the earlier parameters visible, as Jinja2 does
// (`{% macro m(a, b=a) %}`); gonja would evaluate them without those.
func bindDefaults(m *nodes.Macro, r *exec.Renderer, params *exec.VarArgs) error {
	if len(params.Args) >= len(m.Kwargs) {
		return nil
	}
	if params.KwArgs == nil {
		params.KwArgs = map[string]*exec.Value{}
	}
	scope := r.Inherit()
	for i, p := range m.Kwargs {
		key := r.Eval(p.Key)
		if key.IsError() {
			return key
		}
		name := key.String()
		switch v, ok := params.KwArgs[name]; {
		case i < len(params.Args):
			scope.Environment.Context.Set(name, params.Args[i])
		case ok:
			scope.Environment.Context.Set(name, v)
		default:
			v := scope.Eval(p.Value)
			if v.IsError() {
				return fmt.Errorf("macro %s, default of %s: %w", m.Name, name, v)
			}
			params.KwArgs[name] = v
			scope.Environment.Context.Set(name, v)
		}
	}
	return nil
}

// tupleArgsNode turns a macro's varargs list into a tuple, first thing in
// its body.
type tupleArgsNode struct{ location *tokens.Token }

func (n *tupleArgsNode) Position() *tokens.Token { return n.location }
func (n *tupleArgsNode) String() string          { return "varargs-tuple" }

// orderedKwargsNode turns a macro's kwargs map into an ordered mapping in
// the call's order (see kwargsInOrder), first thing in its body.
type orderedKwargsNode struct{ location *tokens.Token }

func (n *orderedKwargsNode) Position() *tokens.Token { return n.location }
func (n *orderedKwargsNode) String() string          { return "kwargs-dict" }

func (n *orderedKwargsNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	v, ok := r.Environment.Context.Get("kwargs")
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	args := &exec.VarArgs{KwArgs: make(map[string]*exec.Value, len(m))}
	for k, x := range m {
		args.KwArgs[k] = exec.ToValue(x)
	}
	d := &exec.Dict{Pairs: []*exec.Pair{}}
	for _, k := range kwargsInOrder(args) {
		dictSet(d, k, args.KwArgs[k])
	}
	r.Environment.Context.Set("kwargs", d)
	return nil
}

func (n *tupleArgsNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	if v, ok := r.Environment.Context.Get("varargs"); ok {
		if l, ok := v.([]any); ok {
			r.Environment.Context.Set("varargs", pyTuple(l))
		}
	}
	return nil
}

func (e *Engine) macroParser(orig parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		at := args.Current()
		cs, err := orig(p, args)
		if err != nil {
			return nil, err
		}
		m, ok := cs.(*controlStructures.MacroControlStructure)
		if !ok {
			return cs, nil
		}
		// Jinja2 has no *args / **kwargs in a macro's signature
		if m.VarArgsName != "" || m.KwArgsName != "" {
			return nil, args.Error("expected token 'name', got '*' (Jinja2 macros take no *args or **kwargs: use varargs and kwargs in the body)", at)
		}
		// Jinja2 macros take extra arguments when their body uses varargs
		// or kwargs; gonja wants *varargs / **kwargs in the signature.
		used := namesUsed(m.Wrapper)
		if m.VarArgsName == "" && used["varargs"] {
			m.VarArgsName = "varargs"
			// gonja passes a list; Python's varargs is a tuple
			first := &nodes.ControlStructureBlock{Location: at, Name: "set", ControlStructure: &tupleArgsNode{location: at}}
			m.Macro.Wrapper.Nodes = append([]nodes.Node{first}, m.Macro.Wrapper.Nodes...)
		}
		if m.KwArgsName == "" && used["kwargs"] {
			m.KwArgsName = "kwargs"
			// gonja passes a map; Python's kwargs keeps the call's order
			first := &nodes.ControlStructureBlock{Location: at, Name: "set", ControlStructure: &orderedKwargsNode{location: at}}
			m.Macro.Wrapper.Nodes = append([]nodes.Node{first}, m.Macro.Wrapper.Nodes...)
		}
		return &macroNode{ControlStructure: cs, macro: m.Macro, max: e.maxMacro}, nil
	}
}

// --- call: `{% call(a, b) m() %}` passes arguments to caller(), as in Jinja2.

type callNode struct {
	location *tokens.Token
	params   []string
	call     *nodes.Call
	body     *nodes.Wrapper
}

func (n *callNode) Position() *tokens.Token { return n.location }
func (n *callNode) String() string {
	return fmt.Sprintf("call(Line=%d Col=%d)", n.location.Line, n.location.Col)
}

func (n *callNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	caller := func(va *exec.VarArgs) *exec.Value {
		if len(va.Args) > len(n.params) {
			return exec.AsValue(fmt.Errorf("caller() takes %d arguments, %d given", len(n.params), len(va.Args)))
		}
		var buf strings.Builder
		sub := r.Inherit()
		sub.Output = &buf
		for i, name := range n.params {
			var v any
			if i < len(va.Args) {
				v = va.Args[i]
			}
			if kw, ok := va.KwArgs[name]; ok {
				v = kw
			}
			sub.Environment.Context.Set(name, v)
		}
		if err := sub.ExecuteWrapper(n.body); err != nil {
			return exec.AsValue(err)
		}
		return exec.AsSafeValue(buf.String())
	}
	// gonja's macros pick the caller up from this slot (see exec.MacroNodeToFunc)
	r.Environment.Context.Set("__gonja_caller__", caller)
	result := r.Eval(n.call)
	r.Environment.Context.Set("__gonja_caller__", nil)
	if result.IsError() {
		return fmt.Errorf("call: %w", result)
	}
	_, err := io.WriteString(r.Output, result.String())
	return err
}

func callParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	n := &callNode{location: p.Current()}
	if args.Match(tokens.LeftParenthesis) != nil {
		for args.Match(tokens.RightParenthesis) == nil {
			name := args.Match(tokens.Name)
			if name == nil {
				return nil, args.Error("expected a caller argument name", args.Current())
			}
			n.params = append(n.params, name.Val)
			if args.Match(tokens.Comma) == nil && args.Current(tokens.RightParenthesis) == nil {
				return nil, args.Error("expected ',' or ')'", args.Current())
			}
		}
	}
	expr, err := args.ParseExpression()
	if err != nil {
		return nil, err
	}
	call, ok := expr.(*nodes.Call)
	if !ok {
		return nil, args.Error("expected a macro call after {% call %}", args.Current())
	}
	n.call = call
	if !args.End() {
		return nil, args.Error("malformed 'call' tag", args.Current())
	}
	body, endargs, err := p.WrapUntil("endcall")
	if err != nil {
		return nil, err
	}
	if !endargs.End() {
		return nil, endargs.Error("endcall takes no arguments", endargs.Current())
	}
	n.body = body
	return n, nil
}
