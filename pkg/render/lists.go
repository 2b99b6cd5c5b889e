package render

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// newList makes a list literal's value. It is a pointer so that
// `{% do items.append(x) %}` changes the one list every scope sees, as in
// Python; gonja resolves pointers wherever it reads a list.
func newList(args *exec.VarArgs) *[]any {
	l := make([]any, len(args.Args))
	for i, a := range args.Args {
		l[i] = a.Interface()
	}
	return &l
}

var pyListMethodNames = strings.Fields(`append clear copy count extend index insert pop remove reverse sort`)

// listMethods copies gonja's list methods and replaces the mutating ones
// with versions that change a pointer list in place.
func listMethods() *exec.MethodSet[[]any] {
	m := map[string]exec.Method[[]any]{}
	for _, name := range pyListMethodNames {
		if fn, ok := builtins.Methods.List.Get(name); ok {
			m[name] = fn
		}
	}
	m["index"] = func(self []any, sv *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) != 1 {
			return nil, exec.ErrInvalidCall(errors.New("index() takes exactly one argument"))
		}
		for i, x := range listOf(sv) {
			if exec.ToValue(x).EqualValueTo(args.Args[0]) {
				return i, nil
			}
		}
		return nil, fmt.Errorf("%s is not in list", pyRepr(args.Args[0]))
	}
	m["count"] = func(self []any, sv *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) != 1 {
			return nil, exec.ErrInvalidCall(errors.New("count() takes exactly one argument"))
		}
		n := 0
		for _, x := range listOf(sv) {
			if exec.ToValue(x).EqualValueTo(args.Args[0]) {
				n++
			}
		}
		return n, nil
	}
	mutate := func(name string, f func(l []any, args []*exec.Value) ([]any, any, error)) {
		orig := m[name]
		m[name] = func(self []any, sv *exec.Value, args *exec.VarArgs) (any, error) {
			if sv.Val.Kind() != reflect.Pointer {
				if orig == nil {
					return nil, fmt.Errorf("list has no method %s", name)
				}
				return orig(self, sv, args)
			}
			if len(args.KwArgs) > 0 {
				return nil, exec.ErrInvalidCall(fmt.Errorf("%s() takes no keyword arguments", name))
			}
			cur, ok := sv.Val.Elem().Interface().([]any)
			if !ok {
				return orig(self, sv, args)
			}
			next, res, err := f(cur, args.Args)
			if err != nil {
				return nil, err
			}
			sv.Val.Elem().Set(reflect.ValueOf(next))
			return res, nil
		}
	}
	mutate("append", func(l []any, a []*exec.Value) ([]any, any, error) {
		if len(a) != 1 {
			return nil, nil, exec.ErrInvalidCall(fmt.Errorf("append() takes exactly one argument (%d given)", len(a)))
		}
		return append(l, a[0].Interface()), nil, nil
	})
	mutate("extend", func(l []any, a []*exec.Value) ([]any, any, error) {
		if len(a) != 1 || !a[0].IsIterable() {
			return nil, nil, exec.ErrInvalidCall(errors.New("extend() takes exactly one iterable argument"))
		}
		a[0].Iterate(func(_, _ int, k, _ *exec.Value) bool {
			l = append(l, k.Interface())
			return true
		}, func() {})
		return l, nil, nil
	})
	mutate("insert", func(l []any, a []*exec.Value) ([]any, any, error) {
		if len(a) != 2 {
			return nil, nil, exec.ErrInvalidCall(fmt.Errorf("insert expected 2 arguments, got %d", len(a)))
		}
		i := a[0].Integer()
		if i < 0 {
			i += len(l)
		}
		i = max(0, min(i, len(l)))
		l = append(l[:i], append([]any{a[1].Interface()}, l[i:]...)...)
		return l, nil, nil
	})
	mutate("pop", func(l []any, a []*exec.Value) ([]any, any, error) {
		if len(l) == 0 {
			return nil, nil, errors.New("pop from empty list")
		}
		i := len(l) - 1
		if len(a) > 0 {
			i = a[0].Integer()
			if i < 0 {
				i += len(l)
			}
		}
		if i < 0 || i >= len(l) {
			return nil, nil, errors.New("pop index out of range")
		}
		v := l[i]
		return append(l[:i:i], l[i+1:]...), v, nil
	})
	mutate("clear", func(l []any, _ []*exec.Value) ([]any, any, error) { return []any{}, nil, nil })
	return exec.NewMethodSet(m)
}

var upperCaser = cases.Upper(language.Und)

// pyUpper is Python's str.upper(): full case mapping ("ß" -> "SS").
func pyUpper(s string) string { return upperCaser.String(s) }

// listOf returns a list value's items, whatever slice type holds them.
func listOf(v *exec.Value) []any {
	rv := reflect.Indirect(reflect.ValueOf(v.Interface()))
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out
}

// pyMul is Python's a * b: repetition for a sequence and an int.
func pyMul(args *exec.VarArgs) (any, error) {
	a, b := args.Args[0], args.Args[1]
	if isInt(a) && (b.IsString() || b.IsList()) {
		a, b = b, a
	}
	switch {
	case a.IsString() && isInt(b) && !isBig(b):
		n := max(asInt(b), 0)
		if int64(len(a.String()))*n > maxRepeatBytes {
			return nil, fmt.Errorf("%w: string repetition", ErrTooLarge)
		}
		return strings.Repeat(a.String(), int(n)), nil
	case a.IsList() && isInt(b) && !isBig(b):
		items := listOf(a)
		n := max(asInt(b), 0)
		if int64(len(items))*n > maxRange {
			return nil, fmt.Errorf("%w: list repetition", ErrTooLarge)
		}
		out := make([]any, 0, len(items)*int(n))
		for range n {
			out = append(out, items...)
		}
		return &out, nil
	case isNum(a) && isNum(b):
		if isInt(a) && isInt(b) {
			return intOp('*', a, b)
		}
		return asFloat(a) * asFloat(b), nil
	}
	return nil, typeError("*", a, b)
}

// maxRepeatBytes bounds "text" * n.
const maxRepeatBytes = 64 << 20

// filterMinMax is Jinja2's min (sign -1) or max (sign 1): with attribute=
// it returns the item, not the attribute (gonja returns the attribute).
func filterMinMax(sign int) exec.FilterFunction {
	return func(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return in
		}
		caseSensitive := false
		if v, ok := params.KwArgs["case_sensitive"]; ok {
			caseSensitive = v.IsTrue()
		}
		var attr []string
		if v, ok := params.KwArgs["attribute"]; ok && !v.IsNil() {
			attr = strings.Split(v.String(), ".")
		}
		key := func(v *exec.Value) *exec.Value {
			for _, a := range attr {
				next, ok := v.GetItem(a)
				if !ok {
					if next, ok = v.GetAttribute(a); !ok {
						return exec.AsValue(nil)
					}
				}
				v = next
			}
			return v
		}
		var best, bestKey *exec.Value
		in.Iterate(func(_, _ int, item, _ *exec.Value) bool {
			k := key(item)
			if best == nil || sign*compareKeys(k, bestKey, caseSensitive) > 0 {
				best, bestKey = item, k
			}
			return true
		}, func() {})
		if best == nil {
			return exec.AsValue(errors.New("no aggregated item, sequence was empty"))
		}
		return best
	}
}

// compareKeys orders numbers by value and other values by their text.
func compareKeys(a, b *exec.Value, caseSensitive bool) int {
	if isNum(a) && isNum(b) {
		x, y := asFloat(a), asFloat(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	x, y := pyStr(a), pyStr(b)
	if !caseSensitive {
		x, y = strings.ToLower(x), strings.ToLower(y)
	}
	return strings.Compare(x, y)
}

// pyAdd is Python's a + b: numbers add, str, list and tuple concatenate,
// anything else is a TypeError (gonja would concatenate text).
func pyAdd(args *exec.VarArgs) (any, error) {
	a, b := args.Args[0], args.Args[1]
	switch {
	case isNum(a) && isNum(b):
		if isInt(a) && isInt(b) {
			return intOp('+', a, b)
		}
		return asFloat(a) + asFloat(b), nil
	case a.IsString() && b.IsString():
		return a.String() + b.String(), nil
	case a.IsString():
		return nil, fmt.Errorf("can only concatenate str (not %q) to str", pyTypeName(b))
	case a.IsList() && b.IsList():
		_, ta := a.Interface().(pyTuple)
		_, tb := b.Interface().(pyTuple)
		out := append(listOf(a), listOf(b)...)
		switch {
		case ta && tb:
			return pyTuple(out), nil
		case !ta && !tb:
			return &out, nil
		}
	}
	return nil, typeError("+", a, b)
}

// filterSum is Jinja2's sum(attribute=None, start=0): Python's + over the
// items, so lists concatenate and integers never wrap.
func filterSum(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	var attr, start *exec.Value
	for i, a := range params.Args {
		switch i {
		case 0:
			attr = a
		case 1:
			start = a
		default:
			return exec.AsValue(errors.New("sum() takes at most 2 arguments"))
		}
	}
	for k, v := range params.KwArgs {
		switch k {
		case "attribute":
			attr = v
		case "start":
			start = v
		default:
			return exec.AsValue(fmt.Errorf("sum() got an unexpected keyword argument '%s'", k))
		}
	}
	if start == nil {
		start = exec.AsValue(0)
	}
	var path []string
	if attr != nil && !attr.IsNil() {
		path = strings.Split(attr.String(), ".")
	}
	total := start
	var err error
	in.Iterate(func(_, _ int, item, _ *exec.Value) bool {
		for _, p := range path {
			next, ok := item.GetItem(p)
			if !ok {
				if next, ok = item.GetAttribute(p); !ok {
					err = fmt.Errorf("no attribute '%s'", p)
					return false
				}
			}
			item = next
		}
		var r any
		if r, err = pyAdd(&exec.VarArgs{Args: []*exec.Value{total, item}}); err != nil {
			return false
		}
		total = exec.AsValue(r)
		return true
	}, func() {})
	if err != nil {
		return exec.AsValue(err)
	}
	return total
}
