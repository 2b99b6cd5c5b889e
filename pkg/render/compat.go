package render

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/builtins"
	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// installCompat sets up the engine's own copies of gonja's control
// structures, filters, globals and methods, with the Jinja2 fixes.
func (e *Engine) installCompat() error {
	cs := exec.NewControlStructureSet(map[string]parser.ControlStructureParser{})
	cs.Update(builtins.ControlStructures)
	origMacro, _ := cs.Get("macro")
	origSet, _ := cs.Get("set")
	for name, p := range map[string]parser.ControlStructureParser{
		"include": e.includeParser,
		"import":  e.importParser,
		"from":    e.fromParser,
		"extends": e.extendsParser,
		"macro":   e.macroParser(origMacro),
		"set":     setParser(origSet),
		"for":     e.forParser(),
		"call":    callParser,
	} {
		if err := cs.Replace(name, p); err != nil {
			return err
		}
	}
	for _, name := range controlStructureNames {
		if p, ok := cs.Get(name); ok {
			if err := cs.Replace(name, placed(p)); err != nil {
				return err
			}
		}
	}
	e.env.ControlStructures = cs

	for name, fn := range map[string]any{
		fnPow:      pyPow,
		fnFloorDiv: pyFloorDiv,
		fnTrueDiv:  pyTrueDiv,
		fnMod:      pyMod,
		fnTuple:    func(args *exec.VarArgs) pyTuple { return pyTupleOf(args.Args) },
		fnList:     newList,
		fnDict:     newDict,
		fnMul:      pyMul,
		fnAdd:      pyAdd,
		fnSub:      pySub,
		fnLt:       pyCompare("<"),
		fnLe:       pyCompare("<="),
		fnGt:       pyCompare(">"),
		fnGe:       pyCompare(">="),
		fnEq:       func(args *exec.VarArgs) bool { return pyEqual(args.Args[0], args.Args[1]) },
		fnNot:      func(args *exec.VarArgs) bool { return !args.Args[0].IsTrue() },
		fnNe:       func(args *exec.VarArgs) bool { return !pyEqual(args.Args[0], args.Args[1]) },
		fnConcat: func(args *exec.VarArgs) string {
			var b strings.Builder
			for _, a := range args.Args {
				b.WriteString(pyStr(a))
			}
			return b.String()
		},
		"range":     pyRange,
		"dict":      dictGlobal,
		"namespace": namespaceGlobal,
	} {
		e.env.Context.Set(name, fn)
	}

	if err := e.env.Filters.Register(filterStr, func(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return placeError(in, params)
		}
		if u, ok := in.Interface().(undefined); ok {
			if e.opts.Lenient || u.lenient {
				return exec.AsValue("")
			}
			return placeError(exec.AsValue(errors.New(u.msg)), params)
		}
		if e.opts.Lenient && in.IsNil() {
			// gonja gives undefined names as nil: print them as Jinja2's
			// Undefined (empty), at the price of None printing empty too
			return exec.AsValue("")
		}
		return exec.AsValue(pyStr(in))
	}); err != nil {
		return err
	}
	origDictSort, _ := e.env.Filters.Get("dictsort")
	origInt, _ := e.env.Filters.Get("int")
	origDefault, _ := e.env.Filters.Get("default")
	// select and friends fail on an unknown test, as Jinja2 does (gonja
	// selects nothing)
	for name, testArg := range map[string]int{"select": 0, "reject": 0, "selectattr": 1, "rejectattr": 1} {
		orig, _ := e.env.Filters.Get(name)
		if err := e.env.Filters.Replace(name, func(ev *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
			if len(params.Args) > testArg {
				if t := params.Args[testArg].String(); !e.env.Tests.Exists(t) {
					return exec.AsValue(fmt.Errorf("No test named '%s'", t))
				}
			}
			return orig(ev, in, params)
		}); err != nil {
			return err
		}
	}
	for name, f := range map[string]exec.FilterFunction{
		"dictsort": pairsAsTuples(origDictSort),
		"items":    filterItems,
		"sum":      filterSum,
		"pprint":   filterPprint,
		"center":   filterCenter,
		"wordwrap": filterWordwrap,
		"attr":     e.attrFilter,
		"string": func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
			if in.IsError() {
				return in
			}
			return exec.AsValue(pyStr(in))
		},
		"tojson":  filterToJSON,
		"reverse": filterReverse,
		"min":     filterMinMax(-1),
		"max":     filterMinMax(1),
		"int":     intFilter(origInt),
		"default": e.defaultFilter(origDefault),
		"d":       e.defaultFilter(origDefault),
		"round":   filterRound,
		"format":  filterFormat,
		"upper": func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
			if in.IsError() {
				return in
			}
			return exec.AsValue(pyUpper(pyStr(in)))
		},
	} {
		if err := e.env.Filters.Replace(name, f); err != nil {
			return err
		}
	}
	// Jinja2's sequence test: anything with a length and items by index
	if err := e.env.Tests.Replace("sequence", func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return in.IsList() || in.IsString() || in.IsDict(), nil
	}); err != nil {
		return err
	}
	if err := e.env.Tests.Replace("defined", func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return !in.IsError() && !in.IsNil() && !isUndefined(in), nil
	}); err != nil {
		return err
	}
	if err := e.env.Tests.Replace("undefined", func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return in.IsError() || in.IsNil() || isUndefined(in), nil
	}); err != nil {
		return err
	}
	for name, set := range map[string]interface{ Exists(string) bool }{"filter": e.env.Filters, "test": e.env.Tests} {
		if err := e.env.Tests.Replace(name, func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
			return in.IsString() && !strings.HasPrefix(in.String(), "__runner_") && set.Exists(in.String()), nil
		}); err != nil {
			return err
		}
	}
	if err := e.env.Tests.Replace("escaped", func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return in.Safe, nil
	}); err != nil {
		return err
	}
	methods := e.env.Methods // a copy: the struct holds pointers to gonja's sets
	methods.Str = strMethods()
	methods.List = listMethods()
	methods.Dict = dictMethods()
	e.env.Methods = methods
	return nil
}

var controlStructureNames = strings.Fields(`autoescape block extends filter for from if
	import include macro raw set with do break continue trans call`)

// placed gives a position to the parse errors gonja's tag parsers return
// without one: the tag's first argument, or the token after the tag.
func placed(orig parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		at := args.Current()
		if at == nil || at.Line == 0 {
			at = p.Current()
		}
		cs, err := orig(p, args)
		if err == nil || at == nil || at.Line == 0 {
			return cs, err
		}
		var se *parser.SyntaxError
		var re *Error
		if errors.As(err, &re) || errors.As(err, &se) && se.Line > 0 {
			return cs, err
		}
		msg := err.Error()
		if se != nil {
			msg = se.Message
		}
		return cs, &parser.SyntaxError{Message: msg, Raw: at.Val, Line: at.Line, Column: at.Col}
	}
}

// --- include: names resolve from the root, errors name the included file.

type includeNode struct {
	location      *tokens.Token
	filename      nodes.Expression
	ignoreMissing bool
	// withoutContext: "without context" passes only the globals
	withoutContext bool
	eng            *Engine
}

func (n *includeNode) Position() *tokens.Token { return n.location }
func (n *includeNode) String() string {
	return fmt.Sprintf("include(Line=%d Col=%d)", n.location.Line, n.location.Col)
}

func (n *includeNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	v := r.Eval(n.filename)
	if v.IsError() {
		return fmt.Errorf("include name: %w", v)
	}
	names := []string{v.String()}
	if v.IsList() { // Jinja2 includes the first template of a list that exists
		names = names[:0]
		for i := range v.Len() {
			names = append(names, v.Index(i).String())
		}
	}
	if len(names) == 0 {
		return errors.New("include of an empty list of templates")
	}
	loader, err := r.Loader.Inherit(names[0])
	if err != nil {
		return err
	}
	var t *template
	for _, name := range names {
		t, err = n.eng.parse(loader, name)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if n.ignoreMissing {
				return nil
			}
			// placed by the caller: the include tag is the place to fix
			return fmt.Errorf("template not found: %s", strings.Join(names, ", "))
		}
		return err
	}
	// the included template sees the includer's variables (none but the
	// globals "without context") and its own sets stay its own
	ctx := r.Environment.Context.Inherit()
	if n.withoutContext {
		ctx = n.eng.env.Context.Inherit()
		ctx.Set(budgetKey, budgetOf(r.Environment.Context))
	}
	env := envWith(r, ctx)
	if err := exec.NewRenderer(env, r.Output, r.Config.Inherit(), loader, t.t).Execute(); err != nil {
		return toError(t.path, t.source, t.cols, err)
	}
	return nil
}

func (e *Engine) includeParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	n := &includeNode{location: p.Current(), eng: e}
	expr, err := args.ParseExpression()
	if err != nil {
		return nil, err
	}
	n.filename = expr
	if args.MatchName("ignore") != nil {
		if args.MatchName("missing") == nil {
			return nil, args.Error("expected 'missing' after 'ignore'", args.Current())
		}
		n.ignoreMissing = true
	}
	mode, err := matchContext(args)
	if err != nil {
		return nil, err
	}
	n.withoutContext = mode == "without"
	if !args.End() {
		return nil, args.Error("malformed 'include' tag", args.Current())
	}
	return n, nil
}

// --- extends: parse errors of a parent name the parent file.

type extendsNode struct{ location *tokens.Token }

func (n *extendsNode) Position() *tokens.Token { return n.location }
func (n *extendsNode) String() string {
	return fmt.Sprintf("extends(Line=%d Col=%d)", n.location.Line, n.location.Col)
}

type depthLimited interface{ depthLeft() bool }

func (l *rootLoader) depthLeft() bool   { return l.depth < l.maxDepth }
func (s *sourceLoader) depthLeft() bool { return s.Loader.(depthLimited).depthLeft() }

func (e *Engine) extendsParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	n := &extendsNode{location: p.Current()}
	if p.Template.Parent != nil {
		return nil, args.Error("this template has already one parent", args.Current())
	}
	name := args.Match(tokens.String)
	if name == nil {
		return nil, args.Error("tag 'extends' requires a template filename as string", args.Current())
	}
	path, _ := p.Loader.Resolve(name.Val)
	if d, ok := p.Loader.(depthLimited); ok && !d.depthLeft() {
		return nil, &Error{File: e.display(path), Msg: fmt.Sprintf("%v (more than %d levels of include/extends; does %s extend itself?)",
			ErrRecursion, e.opts.MaxDepth, name.Val), Err: ErrRecursion}
	}
	parent, err := p.Extend(name.Val)
	if err != nil {
		var re *Error
		if errors.As(err, &re) {
			return nil, err
		}
		var se *parser.SyntaxError
		if errors.As(err, &se) {
			return nil, toError(e.display(path), "", nil, err)
		}
		return nil, args.Error(fmt.Sprintf("cannot load template %q: %v", name.Val, err), name)
	}
	rewrite(parent, e.display(path)) // before the child's rewrite reaches it: errors name the parent
	p.Template.Parent = parent
	if tok := args.MatchName("with", "without"); tok != nil && args.MatchName("context") == nil {
		return nil, args.Error("expected 'context'", args.Current())
	}
	if !args.End() {
		return nil, args.Error("tag 'extends' only takes 1 argument", args.Current())
	}
	return n, nil
}

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

func (n *tupleArgsNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	if v, ok := r.Environment.Context.Get("varargs"); ok {
		if l, ok := v.([]any); ok {
			r.Environment.Context.Set("varargs", pyTuple(l))
		}
	}
	return nil
}

// --- import and from: the imported template gets the same fixes.

type importNode struct {
	location *tokens.Token
	filename nodes.Expression
	as       string            // {% import X as as %}
	names    map[string]string // {% from X import name as alias %}: alias -> name
	eng      *Engine
	// withContext: "with context" passes the importer's variables
	withContext bool
}

func (n *importNode) Position() *tokens.Token { return n.location }
func (n *importNode) String() string {
	return fmt.Sprintf("import(Line=%d Col=%d)", n.location.Line, n.location.Col)
}

func (n *importNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	v := r.Eval(n.filename)
	if v.IsError() {
		return fmt.Errorf("import name: %w", v)
	}
	name := v.String()
	loader, err := r.Loader.Inherit(name)
	if err != nil {
		return err
	}
	t, err := n.eng.parse(loader, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("template not found: %s", name)
		}
		return err
	}
	mod, err := n.module(r, loader, t)
	if err != nil {
		return err
	}
	if n.names == nil {
		r.Environment.Context.Set(n.as, mod)
		return nil
	}
	for alias, vname := range n.names {
		v, ok := mod[vname]
		if !ok {
			return fmt.Errorf("the template %q does not export the requested name %q", name, vname)
		}
		r.Environment.Context.Set(alias, v)
	}
	return nil
}

// module runs an imported template as Jinja2 does, output discarded, and
// returns what it exports: its top-level macros and variables whose names
// do not start with an underscore. Without "with context" it sees only the
// globals.
// envWith is r's environment (filters, tests, tags, methods) with ctx as
// its variables: what an included or imported template renders in.
func envWith(r *exec.Renderer, ctx *exec.Context) *exec.Environment {
	return &exec.Environment{
		Context:           ctx,
		Filters:           r.Environment.Filters,
		Tests:             r.Environment.Tests,
		ControlStructures: r.Environment.ControlStructures,
		Methods:           r.Environment.Methods,
	}
}

func (n *importNode) module(r *exec.Renderer, loader loaders.Loader, t *template) (map[string]any, error) {
	base := n.eng.env.Context
	if n.withContext {
		base = r.Environment.Context
	}
	ctx := base.Inherit()
	ctx.Set(budgetKey, budgetOf(r.Environment.Context))
	env := envWith(r, ctx)
	if err := exec.NewRenderer(env, io.Discard, r.Config.Inherit(), loader, t.t).Execute(); err != nil {
		return nil, toError(t.path, t.source, t.cols, err)
	}
	mod := map[string]any{}
	for k, v := range contextData(ctx) {
		if !strings.HasPrefix(k, "_") && k != "self" && k != "loop" {
			mod[k] = v
		}
	}
	return mod, nil
}

// contextData reads the variables set directly in ctx (gonja keeps them in
// an unexported field).
func contextData(ctx *exec.Context) map[string]any {
	f := reflect.ValueOf(ctx).Elem().FieldByName("data")
	m, _ := reflect.NewAt(f.Type(), f.Addr().UnsafePointer()).Elem().Interface().(map[string]any)
	return m
}

// matchContext consumes an optional "with context" / "without context"
// and returns "with", "without" or "".
func matchContext(args *parser.Parser) (string, error) {
	tok := args.MatchName("with", "without")
	if tok == nil {
		return "", nil
	}
	if args.MatchName("context") == nil {
		return "", args.Error("expected 'context'", args.Current())
	}
	return tok.Val, nil
}

func (e *Engine) importParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	n := &importNode{location: p.Current(), eng: e}
	var err error
	if n.filename, err = args.ParseExpression(); err != nil {
		return nil, err
	}
	if args.MatchName("as") == nil {
		return nil, args.Error("expected 'as'", args.Current())
	}
	as := args.Match(tokens.Name)
	if as == nil {
		return nil, args.Error("expected a name after 'as'", args.Current())
	}
	n.as = as.Val
	mode, err := matchContext(args)
	if err != nil {
		return nil, err
	}
	n.withContext = mode == "with"
	if !args.End() {
		return nil, args.Error("malformed 'import' tag", args.Current())
	}
	return n, nil
}

func (e *Engine) fromParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	n := &importNode{location: p.Current(), eng: e, names: map[string]string{}}
	var err error
	if n.filename, err = args.ParseExpression(); err != nil {
		return nil, err
	}
	if args.MatchName("import") == nil {
		return nil, args.Error("expected 'import'", args.Current())
	}
	for {
		name := args.Match(tokens.Name)
		if name == nil {
			return nil, args.Error("expected a name to import", args.Current())
		}
		alias := name
		if args.MatchName("as") != nil {
			if alias = args.Match(tokens.Name); alias == nil {
				return nil, args.Error("expected a name after 'as'", args.Current())
			}
		}
		n.names[alias.Val] = name.Val
		if args.Match(tokens.Comma) == nil {
			break
		}
	}
	mode, err := matchContext(args)
	if err != nil {
		return nil, err
	}
	n.withContext = mode == "with"
	if !args.End() {
		return nil, args.Error("malformed 'from' tag", args.Current())
	}
	return n, nil
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
		}
		return &macroNode{ControlStructure: cs, macro: m.Macro, max: e.maxMacro}, nil
	}
}

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
		case c.IsTrue():
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

// --- round: Python's round() rounds half to even on the exact binary value.

func filterRound(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	precision, method := 0, "common"
	if len(params.Args) > 0 {
		precision = params.Args[0].Integer()
	}
	if len(params.Args) > 1 {
		method = params.Args[1].String()
	}
	if v, ok := params.KwArgs["precision"]; ok {
		precision = v.Integer()
	}
	if v, ok := params.KwArgs["method"]; ok {
		method = v.String()
	}
	x := in.Float()
	switch method {
	case "common":
		if in.IsInteger() { // Python's round() of an int is an int
			if precision >= 0 {
				return in
			}
			f := int(math.Pow(10, float64(-precision)))
			return exec.AsValue(int(math.RoundToEven(float64(in.Integer())/float64(f))) * f)
		}
		if precision >= 0 {
			r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', precision, 64), 64)
			if err != nil {
				return exec.AsValue(err)
			}
			return exec.AsValue(r)
		}
		f := math.Pow(10, float64(-precision))
		return exec.AsValue(math.RoundToEven(x/f) * f)
	case "floor", "ceil":
		op := math.Floor
		if method == "ceil" {
			op = math.Ceil
		}
		f := math.Pow(10, float64(precision))
		return exec.AsValue(op(x*f) / f)
	}
	return exec.AsValue(errors.New("method must be common, ceil or floor"))
}

// --- str methods: a copy of gonja's with Python's optional count in replace.

var pyStrMethodNames = strings.Fields(`capitalize casefold center count encode endswith
	expandtabs find format format_map index isalnum isalpha isascii isdecimal isdigit
	isidentifier islower isnumeric isprintable isspace istitle isupper join ljust lower
	lstrip maketrans partition removeprefix removesuffix replace rfind rindex rjust
	rpartition rsplit rstrip split splitlines startswith strip swapcase title translate
	upper zfill`)

func strMethods() *exec.MethodSet[string] {
	m := map[string]exec.Method[string]{}
	for _, name := range pyStrMethodNames {
		if fn, ok := builtins.Methods.Str.Get(name); ok {
			m[name] = fn
		}
	}
	m["replace"] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) < 2 || len(args.Args) > 3 {
			return nil, exec.ErrInvalidCall(fmt.Errorf("replace expected 2 or 3 arguments, got %d", len(args.Args)))
		}
		count := -1
		if len(args.Args) == 3 {
			count = args.Args[2].Integer()
		}
		return strings.Replace(self, args.Args[0].String(), args.Args[1].String(), count), nil
	}
	m["upper"] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		return pyUpper(self), nil
	}
	m["split"] = pySplit(false)
	m["rsplit"] = pySplit(true)
	m["ljust"] = pyJustify(func(pad, _ int) int { return 0 })
	m["rjust"] = pyJustify(func(pad, _ int) int { return pad })
	m["center"] = pyJustify(func(pad, width int) int { return pad/2 + (pad & width & 1) }) // CPython's rounding
	m["count"] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) != 1 {
			return nil, exec.ErrInvalidCall(errors.New("count() takes exactly one argument"))
		}
		return strings.Count(self, args.Args[0].String()), nil
	}
	m["partition"] = pyPartition(strings.Cut)
	m["rpartition"] = pyPartition(func(s, sep string) (string, string, bool) {
		if i := strings.LastIndex(s, sep); i >= 0 {
			return s[:i], s[i+len(sep):], true
		}
		return "", s, false
	})
	m["index"] = pyIndex(strings.Index, "index")
	m["rindex"] = pyIndex(strings.LastIndex, "rindex")
	m["join"] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) != 1 || !args.Args[0].IsIterable() {
			return nil, exec.ErrInvalidCall(errors.New("join() takes exactly one iterable argument"))
		}
		var parts []string
		var bad error
		args.Args[0].Iterate(func(_, _ int, k, _ *exec.Value) bool {
			if !k.IsString() {
				bad = fmt.Errorf("sequence item %d: expected str instance, %s found", len(parts), pyTypeName(k))
				return false
			}
			parts = append(parts, k.String())
			return true
		}, func() {})
		if bad != nil {
			return nil, bad
		}
		return strings.Join(parts, self), nil
	}
	strip := func(trim func(string, string) string, trimSpace func(string, func(rune) bool) string) exec.Method[string] {
		return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
			if len(args.Args) > 1 {
				return nil, exec.ErrInvalidCall(errors.New("strip takes at most 1 argument"))
			}
			if len(args.Args) == 1 && !args.Args[0].IsNil() {
				return trim(self, args.Args[0].String()), nil
			}
			return trimSpace(self, unicode.IsSpace), nil
		}
	}
	for _, name := range []string{"startswith", "endswith"} {
		orig := m[name]
		if orig == nil {
			continue
		}
		// a tuple of prefixes matches when any one does
		m[name] = func(self string, sv *exec.Value, args *exec.VarArgs) (any, error) {
			if len(args.Args) == 0 || !args.Args[0].IsList() {
				return orig(self, sv, args)
			}
			for _, p := range listOf(args.Args[0]) {
				a := &exec.VarArgs{Args: append([]*exec.Value{exec.ToValue(p)}, args.Args[1:]...), KwArgs: args.KwArgs}
				ok, err := orig(self, sv, a)
				if err != nil || ok == true {
					return ok, err
				}
			}
			return false, nil
		}
	}
	m["strip"] = strip(strings.Trim, strings.TrimFunc)
	m["lstrip"] = strip(strings.TrimLeft, strings.TrimLeftFunc)
	m["rstrip"] = strip(strings.TrimRight, strings.TrimRightFunc)
	return exec.NewMethodSet(m)
}

// pySplit is str.split / str.rsplit: on runs of whitespace without a
// separator, at most maxsplit times (-1: no limit).
func pySplit(fromRight bool) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		sep, hasSep, max := "", false, -1
		if len(args.Args) > 0 && !args.Args[0].IsNil() {
			sep, hasSep = args.Args[0].String(), true
		}
		if v, ok := args.KwArgs["sep"]; ok && !v.IsNil() {
			sep, hasSep = v.String(), true
		}
		if len(args.Args) > 1 {
			max = args.Args[1].Integer()
		}
		if v, ok := args.KwArgs["maxsplit"]; ok {
			max = v.Integer()
		}
		if hasSep && sep == "" {
			return nil, errors.New("empty separator")
		}
		var parts []string
		switch {
		case !hasSep && max < 0:
			parts = strings.Fields(self)
		case !hasSep && fromRight:
			parts = rsplitFields(self, max)
		case !hasSep:
			parts = splitFields(self, max)
		case max < 0:
			parts = strings.Split(self, sep)
		case fromRight:
			all := strings.Split(self, sep)
			if len(all) > max+1 {
				parts = append([]string{strings.Join(all[:len(all)-max], sep)}, all[len(all)-max:]...)
			} else {
				parts = all
			}
		default:
			parts = strings.SplitN(self, sep, max+1)
		}
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return &out, nil
	}
}

// splitFields is str.split(None, max) for max >= 0.
func splitFields(s string, max int) []string {
	var parts []string
	rest := strings.TrimLeftFunc(s, unicode.IsSpace)
	for range max {
		i := strings.IndexFunc(rest, unicode.IsSpace)
		if i < 0 {
			break
		}
		parts = append(parts, rest[:i])
		rest = strings.TrimLeftFunc(rest[i:], unicode.IsSpace)
	}
	if rest != "" {
		parts = append(parts, rest)
	}
	return parts
}

// rsplitFields is str.rsplit(None, max) for max >= 0.
func rsplitFields(s string, max int) []string {
	var parts []string
	rest := strings.TrimRightFunc(s, unicode.IsSpace)
	for range max {
		i := strings.LastIndexFunc(rest, unicode.IsSpace)
		if i < 0 {
			break
		}
		parts = append([]string{rest[i+1:]}, parts...)
		rest = strings.TrimRightFunc(rest[:i], unicode.IsSpace)
	}
	if rest != "" {
		parts = append([]string{rest}, parts...)
	}
	return parts
}

// pyJustify is str.ljust / rjust / center; left says how much of the
// padding goes to the left.
func pyJustify(left func(pad, width int) int) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) < 1 || len(args.Args) > 2 {
			return nil, exec.ErrInvalidCall(fmt.Errorf("expected 1 or 2 arguments, got %d", len(args.Args)))
		}
		width, fill := args.Args[0].Integer(), " "
		if len(args.Args) == 2 {
			fill = args.Args[1].String()
			if len([]rune(fill)) != 1 {
				return nil, errors.New("the fill character must be exactly one character long")
			}
		}
		pad := width - len([]rune(self))
		if pad <= 0 {
			return self, nil
		}
		l := left(pad, width)
		return strings.Repeat(fill, l) + self + strings.Repeat(fill, pad-l), nil
	}
}

// pyPartition is str.partition / rpartition: a 3-tuple.
func pyPartition(cut func(s, sep string) (string, string, bool)) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) != 1 || args.Args[0].String() == "" {
			return nil, exec.ErrInvalidCall(errors.New("partition() takes one non-empty separator"))
		}
		sep := args.Args[0].String()
		before, after, found := cut(self, sep)
		if !found {
			sep = ""
		}
		return pyTuple{before, sep, after}, nil
	}
}

// pyIndex is str.index / str.rindex: find, but a miss is an error.
func pyIndex(find func(s, sub string) int, name string) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) != 1 {
			return nil, exec.ErrInvalidCall(fmt.Errorf("%s() takes exactly one argument", name))
		}
		i := find(self, args.Args[0].String())
		if i < 0 {
			return nil, errors.New("substring not found")
		}
		return len([]rune(self[:i])), nil
	}
}

// defaultFilter keeps None, as Jinja2's default does unless boolean is
// true: gonja replaces it. Undefined values reach the filter as errors in
// strict mode; in lenient mode they are nil like None, so it cannot tell.
func (e *Engine) defaultFilter(orig exec.FilterFunction) exec.FilterFunction {
	return func(ev *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		boolean := len(params.Args) > 1 && params.Args[1].IsTrue()
		if v, ok := params.KwArgs["boolean"]; ok {
			boolean = v.IsTrue()
		}
		if isUndefined(in) {
			return orig(ev, exec.AsValue(nil), params)
		}
		if in.IsNil() && !boolean && !e.opts.Lenient {
			return in
		}
		return orig(ev, in, params)
	}
}

// intFilter is gonja's int, with Python's int(True) == 1.
func intFilter(orig exec.FilterFunction) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if in.IsBool() {
			if in.Bool() {
				return exec.AsValue(1)
			}
			return exec.AsValue(0)
		}
		return orig(e, in, params)
	}
}

// filterReverse is Jinja2's reverse: the items backwards (gonja's sorts
// them in descending order).
func filterReverse(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	switch {
	case in.IsError():
		return in
	case in.IsString():
		r := []rune(in.String())
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return exec.AsValue(string(r))
	case in.IsList():
		items := listOf(in)
		out := make([]any, len(items))
		for i, x := range items {
			out[len(items)-1-i] = x
		}
		return exec.AsValue(out)
	case in.IsDict():
		keys := in.Keys() // sorted: gonja does not keep insertion order
		out := make([]any, len(keys))
		for i, k := range keys {
			out[len(keys)-1-i] = k.Interface()
		}
		return exec.AsValue(out)
	}
	return exec.AsValue(fmt.Errorf("'%s' object is not reversible", pyTypeName(in)))
}

// filterFormat is Jinja2's format filter: value % args.
func filterFormat(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	values := exec.AsValue(pyTupleOf(params.Args))
	if len(params.KwArgs) > 0 {
		if len(params.Args) > 0 {
			return exec.AsValue(errors.New("can't handle positional and keyword arguments at the same time"))
		}
		m := make(map[string]any, len(params.KwArgs))
		for k, v := range params.KwArgs {
			m[k] = v.Interface()
		}
		values = exec.AsValue(m)
	}
	s, err := pyFormat(pyStr(in), values)
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(s)
}

// --- for: any number of loop targets, `for a, b, c in rows`.

const loopItem = "__runner_item"

// iterationNode starts every loop body: it counts the render's loop
// iterations and stops the render past the limit.
type iterationNode struct {
	location *tokens.Token
	max      int
}

func (n *iterationNode) Position() *tokens.Token { return n.location }
func (n *iterationNode) String() string          { return "loop-budget" }

func (n *iterationNode) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	b := budgetOf(r.Environment.Context)
	b.iterations++
	if b.iterations > n.max {
		return fmt.Errorf("%w: more than %d loop iterations", ErrTooLarge, n.max)
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
		case len(names) == 2:
			cs.Key, cs.Value = names[0], names[1]
		default:
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
		prefix := []nodes.Node{&nodes.ControlStructureBlock{Location: at, Name: "for", ControlStructure: &iterationNode{location: at, max: e.opts.MaxIterations}}}
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
