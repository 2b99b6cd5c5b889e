package expr

import (
	"errors"
	"math"
	"strings"
)

// MaxMemory bounds the bytes an evaluation may hold in strings and objects
// it creates (format, join, toJSON, fromJSON), like GitHub's 1 MB limit.
// Strings count two bytes per character plus a small overhead, as GitHub
// counts them.
const MaxMemory = 1 << 20

// Func implements a function called from expressions. Arguments are
// expression values (see Normalize); the result is normalized.
type Func func(args []any) (any, error)

// Env is what an expression can see.
type Env struct {
	// Contexts maps a context name (github, env, steps, ...) to its value.
	// Lookup is case-insensitive. Values may be plain Go values (see
	// Normalize); passing *Object values avoids converting them on every
	// evaluation.
	Contexts map[string]any
	// Funcs implements the run-dependent functions: hashFiles, success,
	// always, failure, cancelled, and any declared with ParseOptions.Funcs.
	// Names are case-insensitive. Calling a missing one is an evaluation
	// error. The built-in functions cannot be replaced.
	Funcs map[string]Func
}

// Eval evaluates a parsed expression. Errors are *Error of kind evaluation.
// It modifies neither the Node nor the Env, so both may be shared by
// goroutines; the result may share objects and arrays with the contexts,
// which callers must not modify.
func Eval(n Node, env *Env) (any, error) {
	if n == nil {
		return nil, nil
	}
	ev := evaluator{env: env}
	v, err := ev.eval(n)
	if err != nil {
		return nil, err
	}
	if f, ok := v.(filtered); ok {
		v = []any(f)
	}
	return v, nil
}

type evaluator struct {
	env   *Env
	mem   int            // bytes held by values created so far
	cache map[string]any // normalized context values, by lower-cased name
}

func (ev *evaluator) eval(n Node) (any, error) {
	switch n := n.(type) {
	case *literal:
		return n.val, nil
	case *group:
		return ev.eval(n.x)
	case *notNode:
		v, err := ev.eval(n.x)
		if err != nil {
			return nil, err
		}
		return !truthy(v), nil
	case *binary:
		l, err := ev.eval(n.l)
		if err != nil {
			return nil, err
		}
		r, err := ev.eval(n.r)
		if err != nil {
			return nil, err
		}
		return compareOp(n.op, l, r), nil
	case *logical:
		var v any
		for _, a := range n.args {
			var err error
			if v, err = ev.eval(a); err != nil {
				return nil, err
			}
			if truthy(v) != n.and {
				break
			}
		}
		return v, nil
	case *contextRef:
		return ev.context(n)
	case *indexNode:
		return ev.index(n)
	case *call:
		return ev.call(n)
	}
	return nil, errorf(KindEvaluation, 0, "unknown expression node %T", n)
}

func (ev *evaluator) context(n *contextRef) (any, error) {
	if ev.env != nil {
		v, ok := ev.env.Contexts[n.name]
		if !ok {
			for k, x := range ev.env.Contexts {
				if strings.EqualFold(k, n.name) {
					v, ok = x, true
					break
				}
			}
		}
		if ok {
			switch v.(type) {
			case nil, bool, float64, string, *Object:
				return v, nil
			}
			key := strings.ToLower(n.name)
			if c, ok := ev.cache[key]; ok {
				return c, nil
			}
			if ev.cache == nil {
				ev.cache = make(map[string]any)
			}
			c := Normalize(v)
			ev.cache[key] = c
			return c, nil
		}
	}
	return nil, errorf(KindEvaluation, n.off, "Unrecognized named-value: '%s'", n.name)
}

func (ev *evaluator) index(n *indexNode) (any, error) {
	star := n.idx == nil
	key, hasKey, pos := n.key, n.hasKey, n.pos
	if !star && !n.lit {
		idx, err := ev.eval(n.idx)
		if err != nil {
			return nil, err
		}
		key, hasKey, pos = indexKey(idx)
	}
	obj, err := ev.eval(n.x)
	if err != nil {
		return nil, err
	}
	switch o := obj.(type) {
	case filtered:
		out := make(filtered, 0, max(len(o), 1))
		for _, item := range o {
			switch t := item.(type) {
			case *Object:
				if star {
					out = append(out, t.vals...)
				} else if hasKey {
					if v, ok := t.Get(key); ok {
						out = append(out, v)
					}
				}
			case []any:
				if star {
					out = append(out, t...)
				} else if pos >= 0 && pos < len(t) {
					out = append(out, t[pos])
				}
			}
		}
		return out, nil
	case []any:
		if star {
			out := make(filtered, len(o), max(len(o), 1))
			copy(out, o)
			return out, nil
		}
		if pos >= 0 && pos < len(o) {
			return o[pos], nil
		}
		return nil, nil
	case *Object:
		if star {
			out := make(filtered, len(o.vals), max(len(o.vals), 1))
			copy(out, o.vals)
			return out, nil
		}
		if hasKey {
			if v, ok := o.Get(key); ok {
				return v, nil
			}
		}
		return nil, nil
	}
	if star {
		return make(filtered, 0, 1), nil
	}
	return nil, nil
}

// indexKey converts an index value: the key for objects (primitives
// only) and the position for arrays (-1 when not a non-negative number).
func indexKey(idx any) (key string, hasKey bool, pos int) {
	if isPrimitive(idx) {
		key, hasKey = toString(idx), true
	}
	pos = -1
	if f := toNumber(idx); f >= 0 && !math.IsInf(f, 0) {
		if f < math.MaxInt32 {
			pos = int(f)
		} else {
			pos = math.MaxInt32
		}
	}
	return key, hasKey, pos
}

// charge accounts for bytes held by a new value.
func (ev *evaluator) charge(off, bytes int) error {
	ev.mem += bytes
	if ev.mem > MaxMemory {
		return errorf(KindEvaluation, off, "The maximum allowed memory size was exceeded")
	}
	return nil
}

// stringBytes is what a string of n bytes counts against MaxMemory.
func stringBytes(n int) int { return 26 + 2*n }

func (ev *evaluator) call(n *call) (any, error) {
	name := n.lname
	if name == "" {
		name = strings.ToLower(n.name)
	}
	if name == "case" {
		return ev.caseFunc(n)
	}
	before := ev.mem
	args := make([]any, len(n.args))
	for i, a := range n.args {
		v, err := ev.eval(a)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	var res any
	var err error
	var size int
	switch name {
	case "contains":
		res = containsFunc(args[0], args[1])
	case "startswith":
		res = startsWithFunc(args[0], args[1], false)
	case "endswith":
		res = startsWithFunc(args[0], args[1], true)
	case "format":
		var s string
		s, err = format(args, (MaxMemory-before)/2)
		res, size = s, stringBytes(len(s))
	case "join":
		var s string
		s, err = join(args, (MaxMemory-before)/2)
		res, size = s, stringBytes(len(s))
	case "tojson":
		s := ToJSON(args[0])
		res, size = s, stringBytes(len(s))
	case "fromjson":
		in := toString(args[0])
		res, err = fromJSON(in)
		size = 2 * len(in)
	default:
		res, err = ev.external(n, name, args)
		if s, ok := res.(string); ok {
			size = stringBytes(len(s))
		}
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		return nil, &Error{Kind: KindEvaluation, Offset: n.off, Msg: err.Error()}
	}
	ev.mem = before
	if err := ev.charge(n.off, size); err != nil {
		return nil, err
	}
	return res, nil
}

// caseFunc evaluates case(pred1, val1, ..., default) lazily: predicates in
// order, then only the chosen value.
func (ev *evaluator) caseFunc(n *call) (any, error) {
	for i := 0; i+1 < len(n.args); i += 2 {
		p, err := ev.eval(n.args[i])
		if err != nil {
			return nil, err
		}
		b, ok := p.(bool)
		if !ok {
			return nil, errorf(KindEvaluation, n.args[i].Offset(), "case predicate must evaluate to a boolean value")
		}
		if b {
			return ev.eval(n.args[i+1])
		}
	}
	return ev.eval(n.args[len(n.args)-1])
}

func (ev *evaluator) external(n *call, name string, args []any) (any, error) {
	var f Func
	if ev.env != nil {
		f = ev.env.Funcs[name]
		if f == nil {
			f = ev.env.Funcs[n.name]
		}
		if f == nil {
			for k, g := range ev.env.Funcs {
				if strings.EqualFold(k, name) {
					f = g
					break
				}
			}
		}
	}
	if f == nil {
		return nil, errorf(KindEvaluation, n.off, "function '%s' is not available here", n.name)
	}
	for i, a := range args {
		if fa, ok := a.(filtered); ok {
			args[i] = []any(fa)
		}
	}
	v, err := f(args)
	if err != nil {
		return nil, err
	}
	return Normalize(v), nil
}

// truthy is Truthy for normalized values.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case float64:
		return t != 0 && !math.IsNaN(t)
	case string:
		return t != ""
	}
	return true
}
