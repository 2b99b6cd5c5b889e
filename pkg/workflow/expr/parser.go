package expr

import (
	"strings"
)

// MaxDepth is GitHub's limit on expression nesting.
const MaxDepth = 50

// Node is a parsed expression.
type Node interface {
	// Offset is the byte offset of the node's first token in the source.
	Offset() int
	// String prints the expression back in a normalized form.
	String() string
}

type (
	literal struct {
		off int
		val any // nil, bool, float64 or string
		src string
	}
	notNode struct {
		off int
		x   Node
	}
	binary struct {
		op   tokenKind // tEqual, tNotEqual, tLess, tLessEqual, tGreater, tGreaterEqual
		l, r Node
	}
	logical struct {
		and  bool
		args []Node
	}
	group struct {
		off int
		x   Node
	}
	contextRef struct {
		off  int
		name string // as written
	}
	indexNode struct {
		x    Node
		idx  Node // nil for a .* or [*] filter
		prop bool // written as .name
		// A literal index is converted once: key (when primitive) and
		// array position (-1 when none).
		lit    bool
		key    string
		hasKey bool
		pos    int
	}
	call struct {
		off   int
		name  string // as written
		lname string // lower-cased
		args  []Node
	}
)

func (n *literal) Offset() int    { return n.off }
func (n *notNode) Offset() int    { return n.off }
func (n *binary) Offset() int     { return n.l.Offset() }
func (n *logical) Offset() int    { return n.args[0].Offset() }
func (n *group) Offset() int      { return n.off }
func (n *contextRef) Offset() int { return n.off }
func (n *indexNode) Offset() int  { return n.x.Offset() }
func (n *call) Offset() int       { return n.off }

// FuncSpec declares a function for the parser: its name (case-insensitive)
// and how many arguments it takes.
type FuncSpec struct {
	Name             string
	MinArgs, MaxArgs int
}

// builtinSpecs are the functions every expression may call. hashFiles and
// the status functions are implemented by the caller through Env.Funcs.
var builtinSpecs = map[string]FuncSpec{
	"contains":   {"contains", 2, 2},
	"startswith": {"startsWith", 2, 2},
	"endswith":   {"endsWith", 2, 2},
	"format":     {"format", 1, 255},
	"join":       {"join", 1, 2},
	"tojson":     {"toJSON", 1, 1},
	"fromjson":   {"fromJSON", 1, 1},
	"case":       {"case", 3, 255},
	"hashfiles":  {"hashFiles", 1, 255},
	"success":    {"success", 0, 0},
	"always":     {"always", 0, 0},
	"failure":    {"failure", 0, 0},
	"cancelled":  {"cancelled", 0, 0},
}

// statusFuncs are the functions that make an if: condition skip the
// implicit success().
var statusFuncs = map[string]bool{"success": true, "always": true, "failure": true, "cancelled": true}

// ParseOptions adjusts what Parse accepts. The zero value accepts any
// context name and the built-in functions.
type ParseOptions struct {
	// Contexts lists the named values an expression may use
	// (case-insensitive); any other name is a parsing error, as in GitHub.
	// Nil (the default) accepts every name; Eval then fails on names
	// missing from Env.Contexts.
	Contexts []string
	// Funcs declares functions beyond the built-ins (default none); calls
	// to them are evaluated through Env.Funcs.
	Funcs []FuncSpec
}

// Parse parses the text inside ${{ }} (without the delimiters). An empty
// expression evaluates to null. Errors are *Error of kind lexing or parsing.
func Parse(src string) (Node, error) {
	return ParseWith(src, ParseOptions{})
}

// ParseWith is Parse with options.
func ParseWith(src string, opts ParseOptions) (Node, error) {
	return parseAt(src, 0, opts)
}

// parseAt parses src found at offset base of a larger text; node and error
// offsets are relative to that text.
func parseAt(src string, base int, opts ParseOptions) (Node, error) {
	toks, err := lex(src, base)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, base: base, toks: toks}
	if opts.Contexts != nil {
		p.contexts = make(map[string]bool, len(opts.Contexts))
		for _, c := range opts.Contexts {
			p.contexts[strings.ToLower(c)] = true
		}
	}
	if len(opts.Funcs) > 0 {
		p.funcs = make(map[string]FuncSpec, len(opts.Funcs))
		for _, f := range opts.Funcs {
			p.funcs[strings.ToLower(f.Name)] = f
		}
	}
	if p.atEnd() {
		return &literal{off: base, src: "null"}, nil
	}
	n, err := p.expression()
	if err != nil {
		return nil, err
	}
	if !p.atEnd() {
		return nil, p.errUnexpected(p.peek())
	}
	return n, nil
}

type parser struct {
	src      string
	base     int
	toks     []token
	pos      int
	depth    int
	contexts map[string]bool
	funcs    map[string]FuncSpec
}

func (p *parser) peek() token     { return p.toks[p.pos] }
func (p *parser) previous() token { return p.toks[p.pos-1] }
func (p *parser) atEnd() bool     { return p.toks[p.pos].kind == tEOF }

func (p *parser) check(k tokenKind) bool { return !p.atEnd() && p.toks[p.pos].kind == k }

func (p *parser) match(k tokenKind) bool {
	if p.check(k) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) errAt(t token, msg string) error {
	return errorf(KindParsing, t.off, "%s: '%s'. Located at position %d within expression: %s",
		msg, t.text(), position(p.src, t.off-p.base), p.src)
}

func (p *parser) errUnexpected(t token) error { return p.errAt(t, "Unexpected symbol") }

func (p *parser) errEnd() error {
	return p.errAt(p.previous(), "Unexpected end of expression")
}

// enter counts one level of nesting; GitHub counts the same places.
func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return errorf(KindParsing, p.peek().off, "Exceeded max expression depth %d", MaxDepth)
	}
	return nil
}

func (p *parser) expression() (Node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	n, err := p.logical(true)
	p.depth--
	return n, err
}

// logical parses an || chain (or=true) or an && chain.
func (p *parser) logical(or bool) (Node, error) {
	op, next := tOr, func() (Node, error) { return p.logical(false) }
	if !or {
		op, next = tAnd, p.equality
	}
	first, err := next()
	if err != nil || !p.check(op) {
		return first, err
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	n := &logical{and: !or, args: []Node{first}}
	for p.match(op) {
		r, err := next()
		if err != nil {
			return nil, err
		}
		n.args = append(n.args, r)
	}
	return n, nil
}

func (p *parser) equality() (Node, error) {
	l, err := p.comparison()
	for err == nil && (p.check(tEqual) || p.check(tNotEqual)) {
		op := p.toks[p.pos].kind
		p.pos++
		var r Node
		if r, err = p.comparison(); err == nil {
			l = &binary{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) comparison() (Node, error) {
	l, err := p.unary()
	for err == nil {
		op := p.peek().kind
		if p.atEnd() || (op != tGreater && op != tGreaterEqual && op != tLess && op != tLessEqual) {
			break
		}
		p.pos++
		var r Node
		if r, err = p.unary(); err == nil {
			l = &binary{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) unary() (Node, error) {
	if p.match(tBang) {
		off := p.previous().off
		if err := p.enter(); err != nil {
			return nil, err
		}
		x, err := p.unary()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &notNode{off: off, x: x}, nil
	}
	return p.index()
}

func (p *parser) index() (Node, error) {
	n, err := p.call()
	if err != nil {
		return nil, err
	}
	switch n.(type) {
	case *group, *call, *contextRef:
	default:
		return n, nil
	}
	entered := 0
	defer func() { p.depth -= entered }()
	for {
		switch {
		case p.match(tLBracket):
			var idx Node
			if !p.match(tStar) {
				if idx, err = p.expression(); err != nil {
					return nil, err
				}
			}
			if !p.match(tRBracket) {
				return nil, p.errUnexpected(p.peek())
			}
			entered++
			if err := p.enter(); err != nil {
				return nil, err
			}
			n = newIndex(n, idx, false)
		case p.match(tDot):
			entered++
			if err := p.enter(); err != nil {
				return nil, err
			}
			switch {
			case p.match(tIdent):
				t := p.previous()
				n = newIndex(n, &literal{off: t.off, val: t.lexeme, src: t.lexeme}, true)
			case p.match(tStar):
				n = &indexNode{x: n, prop: true}
			default:
				return nil, p.errUnexpected(p.peek())
			}
		default:
			return n, nil
		}
	}
}

func (p *parser) call() (Node, error) {
	if !p.check(tIdent) {
		return p.primary()
	}
	id := p.toks[p.pos]
	p.pos++
	if !p.match(tLParen) {
		if p.contexts != nil && !p.contexts[strings.ToLower(id.lexeme)] {
			return nil, p.errAt(id, "Unrecognized named-value")
		}
		return &contextRef{off: id.off, name: id.lexeme}, nil
	}
	var args []Node
	for !p.match(tRParen) {
		a, err := p.expression()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		if !p.check(tRParen) && !p.match(tComma) {
			return nil, p.errUnexpected(p.peek())
		}
	}
	name := strings.ToLower(id.lexeme)
	spec, ok := builtinSpecs[name]
	if !ok {
		spec, ok = p.funcs[name]
	}
	if !ok {
		return nil, errorf(KindParsing, id.off, "Unrecognized function: '%s'. Located at position %d within expression: %s",
			id.lexeme, position(p.src, id.off-p.base), p.src)
	}
	if len(args) < spec.MinArgs {
		return nil, p.errAt(id, "Too few parameters supplied")
	}
	if len(args) > spec.MaxArgs {
		return nil, p.errAt(id, "Too many parameters supplied")
	}
	if name == "case" && len(args)%2 == 0 {
		return nil, p.errAt(id, "Even number of parameters supplied, requires an odd number of parameters")
	}
	return &call{off: id.off, name: id.lexeme, lname: name, args: args}, nil
}

func (p *parser) primary() (Node, error) {
	if p.atEnd() {
		return nil, p.errEnd()
	}
	t := p.toks[p.pos]
	switch t.kind {
	case tFalse, tTrue, tNull, tNumber, tString:
		p.pos++
		lit := &literal{off: t.off, src: t.lexeme}
		switch t.kind {
		case tFalse:
			lit.val = false
		case tTrue:
			lit.val = true
		case tNumber:
			lit.val = t.num
		case tString:
			lit.val = t.str
		}
		return lit, nil
	case tLParen:
		p.pos++
		x, err := p.expression()
		if err != nil {
			return nil, err
		}
		if p.atEnd() {
			return nil, p.errEnd()
		}
		if !p.match(tRParen) {
			return nil, p.errUnexpected(p.peek())
		}
		return &group{off: t.off, x: x}, nil
	}
	return nil, p.errUnexpected(t)
}

func newIndex(x, idx Node, prop bool) *indexNode {
	n := &indexNode{x: x, idx: idx, prop: prop}
	if l, ok := idx.(*literal); ok {
		n.lit = true
		n.key, n.hasKey, n.pos = indexKey(l.val)
	}
	return n
}
