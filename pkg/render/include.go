package render

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

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

// module runs an imported template as Jinja2 does, output discarded, and
// returns what it exports: its top-level macros and variables whose names
// do not start with an underscore. Without "with context" it sees only the
// globals.
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
