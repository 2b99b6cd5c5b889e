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
