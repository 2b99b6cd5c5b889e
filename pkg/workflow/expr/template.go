package expr

import (
	"fmt"
	"strings"
)

// Template is a string with embedded ${{ }} expressions, as any string
// value in a workflow may be.
type Template struct {
	src    string
	parts  []part
	single int // index of the only expression when the rest is whitespace, else -1
}

type part struct {
	lit  string
	expr Node // nil for a literal part
}

// ParseTemplate splits s into literal text and expressions and parses each
// expression. Inside ${{ }}, a }} within a quoted string does not close the
// expression. An unclosed ${{ or an empty ${{ }} is a parsing error; error
// and node offsets are byte offsets into s.
func ParseTemplate(s string) (*Template, error) {
	return ParseTemplateWith(s, ParseOptions{})
}

// ParseTemplateWith is ParseTemplate with parse options for the
// expressions.
func ParseTemplateWith(s string, opts ParseOptions) (*Template, error) {
	t := &Template{src: s, single: -1}
	i := 0
	for {
		j := strings.Index(s[i:], "${{")
		if j < 0 {
			break
		}
		j += i
		if j > i {
			t.parts = append(t.parts, part{lit: s[i:j]})
		}
		end := closing(s, j+3)
		if end < 0 {
			return nil, errorf(KindParsing, j, "unclosed ${{: no matching }}")
		}
		src := s[j+3 : end]
		if strings.TrimSpace(src) == "" {
			return nil, errorf(KindParsing, j, "an expression was expected inside ${{ }}")
		}
		n, err := parseAt(src, j+3, opts)
		if err != nil {
			return nil, err
		}
		t.parts = append(t.parts, part{expr: n})
		i = end + 2
	}
	if i < len(s) {
		t.parts = append(t.parts, part{lit: s[i:]})
	}
	for k, p := range t.parts {
		if p.expr == nil {
			if strings.TrimSpace(p.lit) != "" {
				t.single = -1
				break
			}
			continue
		}
		if t.single >= 0 {
			t.single = -1
			break
		}
		t.single = k
	}
	return t, nil
}

// closing finds the }} that ends an expression starting at i, skipping
// quoted strings (an escaped quote toggles twice, so stays inside).
func closing(s string, i int) int {
	in := false
	for ; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			in = !in
		case !in && s[i] == '}' && i+1 < len(s) && s[i+1] == '}':
			return i
		}
	}
	return -1
}

// IsLiteral reports whether the template has no ${{ }} at all.
func (t *Template) IsLiteral() bool {
	for _, p := range t.parts {
		if p.expr != nil {
			return false
		}
	}
	return true
}

// Exprs returns the embedded expressions in order.
func (t *Template) Exprs() []Node {
	var out []Node
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr)
		}
	}
	return out
}

// Source is the template text.
func (t *Template) Source() string { return t.src }

// Eval evaluates the template. A template that is exactly one ${{ }}
// (whitespace around it allowed) gives the expression's raw value (a
// number stays a number, an object an object); otherwise the result is
// the string with each expression coerced by String (as EvalString).
func (t *Template) Eval(env *Env) (any, error) {
	if t.single >= 0 {
		return Eval(t.parts[t.single].expr, env)
	}
	return t.EvalString(env)
}

// EvalString evaluates the template to a string, keeping all literal
// text (also the whitespace around a lone ${{ }}).
func (t *Template) EvalString(env *Env) (string, error) {
	if len(t.parts) == 1 && t.parts[0].expr == nil {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := Eval(p.expr, env)
		if err != nil {
			return "", err
		}
		b.WriteString(toString(v))
	}
	return b.String(), nil
}

// Condition parses the value of an if: key with GitHub's rules:
//   - a value that is exactly one ${{ }} is the expression inside it; a
//     bare value is an expression as it is;
//   - text outside the ${{ }}, whitespace included (a `|` block's newline,
//     a quoted trailing space), makes the whole value a string, as GitHub's
//     format('text {0}', expr): non-empty, so always true (the linter warns
//     about it);
//   - an empty value means success();
//   - an expression that calls none of the status functions (success,
//     always, failure, cancelled) is evaluated as success() && (expr),
//     so that a failed earlier step skips it.
//
// Offsets are byte offsets into s.
func Condition(s string) (Node, error) {
	return ConditionWith(s, ParseOptions{})
}

// ConditionWith is Condition with parse options.
func ConditionWith(s string, opts ParseOptions) (Node, error) {
	var n Node
	switch {
	case strings.Contains(s, "${{"):
		t, err := ParseTemplateWith(s, opts)
		if err != nil {
			return nil, err
		}
		if len(t.parts) == 1 {
			n = t.parts[0].expr
			break
		}
		// Text (even whitespace) around the ${{ }} makes the value a
		// string, as GitHub reads it: format('… {0} …', expr), non-empty,
		// so the condition holds whenever success() does.
		n = t.formatCall()
	case strings.TrimSpace(s) == "":
		return &call{off: 0, name: "success", lname: "success"}, nil
	default:
		var err error
		if n, err = parseAt(s, 0, opts); err != nil {
			return nil, err
		}
	}
	if usesStatus(n) {
		return n, nil
	}
	return &logical{and: true, args: []Node{
		&call{off: n.Offset(), name: "success", lname: "success"},
		&group{off: n.Offset(), x: n},
	}}, nil
}

func usesStatus(n Node) bool {
	_, funcs := Refs(n)
	for _, f := range funcs {
		if statusFuncs[f] {
			return true
		}
	}
	return false
}

// Refs lists the contexts and functions an expression uses, lower-cased,
// each once, in order of first use (e.g. to reject unknown contexts, or
// status functions outside if:).
func Refs(n Node) (contexts []string, funcs []string) {
	seen := map[string]bool{}
	for _, r := range RefsAt(n) {
		key := "c:" + r.Name
		if r.Func {
			key = "f:" + r.Name
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		if r.Func {
			funcs = append(funcs, r.Name)
		} else {
			contexts = append(contexts, r.Name)
		}
	}
	return contexts, funcs
}

// Ref is one use of a context or a function in an expression.
type Ref struct {
	Name   string // lower-cased
	Func   bool   // a function call, not a context
	Offset int    // byte offset of the name, as node offsets
	Args   []Node // a call's arguments (see Literal)
}

// RefsAt lists every use of a context or function in an expression, in
// source order, with its offset (e.g. to point at a context that is not
// available where the expression is).
func RefsAt(n Node) []Ref {
	var refs []Ref
	var walk func(Node)
	walk = func(n Node) {
		switch n := n.(type) {
		case *contextRef:
			refs = append(refs, Ref{Name: strings.ToLower(n.name), Offset: n.off})
		case *call:
			refs = append(refs, Ref{Name: strings.ToLower(n.name), Func: true, Offset: n.off, Args: n.args})
		}
		for _, c := range children(n) {
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	return refs
}

// formatCall is the template as GitHub's format() call: its literal text
// (braces doubled) with {N} for each expression.
func (t *Template) formatCall() Node {
	var f strings.Builder
	var args []Node
	for _, p := range t.parts {
		if p.expr == nil {
			f.WriteString(strings.NewReplacer("{", "{{", "}", "}}").Replace(p.lit))
			continue
		}
		fmt.Fprintf(&f, "{%d}", len(args))
		args = append(args, p.expr)
	}
	format := &literal{off: 0, val: f.String(), src: "'" + strings.ReplaceAll(f.String(), "'", "''") + "'"}
	return &call{off: 0, name: "format", lname: "format", args: append([]Node{format}, args...)}
}

// EvalExact evaluates the template as GitHub's template reader reads a
// value: exactly one ${{ }} (Whole) gives the expression's value, anything
// else, whitespace around a lone ${{ }} included, the string (EvalString).
func (t *Template) EvalExact(env *Env) (any, error) {
	if t.Whole() {
		return Eval(t.parts[0].expr, env)
	}
	return t.EvalString(env)
}

// Whole reports whether the template is exactly one ${{ }} with nothing
// around it, not even whitespace: what GitHub's template reader takes as
// one expression whose value is used as it is (an array spliced into a
// sequence, an object as a mapping). Any text around makes the value a
// string (format('…{0}…', expr)).
func (t *Template) Whole() bool {
	return len(t.parts) == 1 && t.parts[0].expr != nil
}
