package render

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
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
	origFor, _ := cs.Get("for")
	for name, p := range map[string]parser.ControlStructureParser{
		"include": e.includeParser,
		"extends": e.extendsParser,
		"macro":   e.macroParser(origMacro),
		"set":     setParser(origSet),
		"for":     forParser(origFor),
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
		"range":    pyRange,
	} {
		e.env.Context.Set(name, fn)
	}

	if err := e.env.Filters.Register(filterStr, func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return in
		}
		return exec.AsValue(pyStr(in))
	}); err != nil {
		return err
	}
	origDictSort, _ := e.env.Filters.Get("dictsort")
	for name, f := range map[string]exec.FilterFunction{
		"dictsort": pairsAsTuples(origDictSort),
		"tojson":   filterToJSON,
		"round":    filterRound,
		"format":   filterFormat,
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
	eng           *Engine
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
	if err := exec.NewRenderer(r.Environment, r.Output, r.Config.Inherit(), loader, t.t).Execute(); err != nil {
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
	if tok := args.MatchName("with", "without"); tok != nil {
		if args.MatchName("context") == nil {
			return nil, args.Error("expected 'context'", args.Current())
		}
	}
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
	fn, err := exec.MacroNodeToFunc(n.macro, r)
	if err != nil {
		return fmt.Errorf("macro %s: %w", n.macro.Name, err)
	}
	depth, _ := r.Environment.Context.Get(callDepthKey)
	counter, _ := depth.(*int)
	if counter == nil {
		counter = new(int)
	}
	name, max := n.macro.Name, n.max
	r.Environment.Context.Set(n.macro.Name, exec.Macro(func(params *exec.VarArgs) *exec.Value {
		if *counter >= max {
			return exec.AsValue(fmt.Errorf("%w: more than %d nested macro calls (macro %s calls itself?)", ErrRecursion, max, name))
		}
		*counter++
		defer func() { *counter-- }()
		return fn(params)
	}))
	return nil
}

func (e *Engine) macroParser(orig parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		cs, err := orig(p, args)
		if err != nil {
			return nil, err
		}
		m, ok := cs.(*controlStructures.MacroControlStructure)
		if !ok {
			return cs, nil
		}
		return &macroNode{ControlStructure: cs, macro: m.Macro, max: e.maxMacro}, nil
	}
}

// --- set: `{% set a, b = 1, 2 %}` unpacks, as in Jinja2.

type multiSetNode struct {
	location *tokens.Token
	names    []string
	values   []nodes.Expression
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
		r.Environment.Context.Set(name, items[i])
	}
	return nil
}

func setParser(orig parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
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
	return exec.NewMethodSet(m)
}

// filterFormat is Jinja2's format filter: value % args.
func filterFormat(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	s, err := pyFormat(in.String(), exec.AsValue(pyTupleOf(params.Args)))
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(s)
}

// --- for: any number of loop targets, `for a, b, c in rows`.

const loopItem = "__runner_item"

func forParser(orig parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		if args.Current(tokens.Name) == nil || args.Peek(tokens.Comma) == nil {
			return orig(p, args)
		}
		at := args.Current()
		var names []string
		for {
			name := args.Match(tokens.Name)
			if name == nil {
				return nil, args.Error("expected a loop variable name", args.Current())
			}
			names = append(names, name.Val)
			if args.Match(tokens.Comma) == nil {
				break
			}
		}
		if args.Match(tokens.In) == nil {
			return nil, args.Error("expected keyword 'in'", args.Current())
		}
		cs := &controlStructures.ForControlStructure{}
		if len(names) == 2 {
			cs.Key, cs.Value = names[0], names[1]
		} else {
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
		if cs.Key == loopItem {
			item := *at
			item.Type, item.Val = tokens.Name, loopItem
			unpack := &multiSetNode{location: at, names: names, values: []nodes.Expression{&nodes.Name{Name: &item}}}
			body.Nodes = append([]nodes.Node{&nodes.ControlStructureBlock{Location: at, Name: "set", ControlStructure: unpack}}, body.Nodes...)
		}
		return cs, nil
	}
}
