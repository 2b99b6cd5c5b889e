package render

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

var pyDictMethodNames = strings.Fields(`keys values items get pop setdefault update copy clear`)

// dict views print as Python's: dict_keys([...]) and so on; to gonja they
// are lists.
type (
	dictKeysView   []any
	dictValuesView []any
	dictItemsView  []any
)

// dictMethods are Python's dict methods. On an ordered mapping they keep
// its order and change it in place; on a Go map they are gonja's, with
// update, setdefault, pop and clear changing the map itself (gonja hands
// methods a copy) and keys, values and items in sorted key order.
func dictMethods() *exec.MethodSet[map[string]any] {
	m := map[string]exec.Method[map[string]any]{}
	for _, name := range pyDictMethodNames {
		orig, ok := builtins.Methods.Dict.Get(name)
		if !ok {
			continue
		}
		ordered := orderedDictMethods[name]
		m[name] = func(self map[string]any, sv *exec.Value, args *exec.VarArgs) (any, error) {
			if d, ok := receiverDict(sv); ok {
				return ordered(d, args)
			}
			delete(args.KwArgs, kwOrderKey)
			target, ok := reflect.Indirect(sv.Val).Interface().(map[string]any)
			if !ok {
				target = self
			}
			if name == "items" { // tuples, as Python's
				keys := sortedKeys(sv)
				out := make(dictItemsView, len(keys))
				for i, k := range keys {
					out[i] = pyTuple{k, target[k]}
				}
				return out, nil
			}
			return orig(target, sv, args)
		}
	}
	return exec.NewMethodSet(m)
}

// orderedDictMethods are the dict methods of an ordered mapping.
var orderedDictMethods = map[string]func(d *exec.Dict, args *exec.VarArgs) (any, error){
	"keys": func(d *exec.Dict, args *exec.VarArgs) (any, error) {
		if err := noArgs("keys", args); err != nil {
			return nil, err
		}
		out := make(dictKeysView, len(d.Pairs))
		for i, p := range d.Pairs {
			out[i] = p.Key.Interface()
		}
		return out, nil
	},
	"values": func(d *exec.Dict, args *exec.VarArgs) (any, error) {
		if err := noArgs("values", args); err != nil {
			return nil, err
		}
		out := make(dictValuesView, len(d.Pairs))
		for i, p := range d.Pairs {
			out[i] = p.Value.Interface()
		}
		return out, nil
	},
	"items": func(d *exec.Dict, args *exec.VarArgs) (any, error) {
		if err := noArgs("items", args); err != nil {
			return nil, err
		}
		out := make(dictItemsView, len(d.Pairs))
		for i, p := range d.Pairs {
			out[i] = pyTuple{p.Key.Interface(), p.Value.Interface()}
		}
		return out, nil
	},
	"get": func(d *exec.Dict, args *exec.VarArgs) (any, error) {
		if len(args.Args) < 1 || len(args.Args) > 2 || len(args.KwArgs) > 0 {
			return nil, fmt.Errorf("get expected 1 or 2 arguments, got %d", len(args.Args)+len(args.KwArgs))
		}
		if i := dictIndex(d, args.Args[0].String()); i >= 0 {
			return d.Pairs[i].Value.Interface(), nil
		}
		if len(args.Args) == 2 {
			return args.Args[1].Interface(), nil
		}
		return nil, nil
	},
	"pop": func(d *exec.Dict, args *exec.VarArgs) (any, error) {
		if len(args.Args) < 1 || len(args.Args) > 2 || len(args.KwArgs) > 0 {
			return nil, fmt.Errorf("pop expected 1 or 2 arguments, got %d", len(args.Args)+len(args.KwArgs))
		}
		if i := dictIndex(d, args.Args[0].String()); i >= 0 {
			v := d.Pairs[i].Value
			d.Pairs = append(d.Pairs[:i], d.Pairs[i+1:]...)
			return v.Interface(), nil
		}
		if len(args.Args) == 2 {
			return args.Args[1].Interface(), nil
		}
		return nil, errors.New(pyRepr(args.Args[0])) // Python's KeyError
	},
	"setdefault": func(d *exec.Dict, args *exec.VarArgs) (any, error) {
		if len(args.Args) < 1 || len(args.Args) > 2 || len(args.KwArgs) > 0 {
			return nil, fmt.Errorf("setdefault expected 1 or 2 arguments, got %d", len(args.Args)+len(args.KwArgs))
		}
		key := args.Args[0].String()
		if i := dictIndex(d, key); i >= 0 {
			return d.Pairs[i].Value.Interface(), nil
		}
		v := exec.AsValue(nil)
		if len(args.Args) == 2 {
			v = args.Args[1]
		}
		dictSet(d, key, v)
		return v.Interface(), nil
	},
	"update": func(d *exec.Dict, args *exec.VarArgs) (any, error) {
		if len(args.Args) > 1 {
			return nil, fmt.Errorf("update expected at most 1 argument, got %d", len(args.Args))
		}
		if len(args.Args) == 1 {
			if err := dictUpdate(d, args.Args[0]); err != nil {
				return nil, err
			}
		}
		for _, k := range kwargsInOrder(args) {
			dictSet(d, k, args.KwArgs[k])
		}
		return nil, nil
	},
	"copy": func(d *exec.Dict, args *exec.VarArgs) (any, error) {
		if err := noArgs("copy", args); err != nil {
			return nil, err
		}
		return &exec.Dict{Pairs: append([]*exec.Pair(nil), d.Pairs...)}, nil
	},
	"clear": func(d *exec.Dict, args *exec.VarArgs) (any, error) {
		if err := noArgs("clear", args); err != nil {
			return nil, err
		}
		d.Pairs = d.Pairs[:0]
		return nil, nil
	},
}

func noArgs(name string, args *exec.VarArgs) error {
	if n := len(args.Args) + len(args.KwArgs); n > 0 {
		return fmt.Errorf("%s() takes no arguments (%d given)", name, n)
	}
	return nil
}

// dictUpdate adds the items of src, a mapping or a sequence of pairs, to d
// in order: dict.update and dict().
func dictUpdate(d *exec.Dict, src *exec.Value) error {
	b := newDictBuilder(d)
	switch {
	case src.IsDict():
		for _, it := range mappingItems(src) {
			b.set(it.key, it.value)
		}
	case src.IsList():
		for i := range src.Len() {
			p := src.Index(i)
			if !p.IsList() || p.Len() != 2 {
				return fmt.Errorf("dictionary update sequence element #%d has the wrong length", i)
			}
			b.set(p.Index(0).String(), p.Index(1))
		}
	default:
		return fmt.Errorf("'%s' object is not iterable", pyTypeName(src))
	}
	return nil
}

// kwOrderKey is the keyword argument the rewrite adds to a call with
// keyword arguments: their names in the template's order, which gonja's
// map of keyword arguments loses. No template can pass a keyword argument
// of that name.
const kwOrderKey = "\x00order"

// kwargsInOrder returns the names of a call's keyword arguments in the
// template's order (sorted when that is unknown), without kwOrderKey.
func kwargsInOrder(args *exec.VarArgs) []string {
	var names []string
	if o, ok := args.KwArgs[kwOrderKey]; ok {
		delete(args.KwArgs, kwOrderKey)
		for _, n := range strings.Split(o.String(), ",") {
			if _, ok := args.KwArgs[n]; ok {
				names = append(names, n)
			}
		}
		if len(names) == len(args.KwArgs) {
			return names
		}
	}
	names = names[:0]
	for k := range args.KwArgs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
