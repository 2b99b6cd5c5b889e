package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// newDict makes a dict literal's value: a Go map, which gonja's filters
// and methods know (its own literal type they do not all handle). Keys are
// strings, as gonja looks attributes and items up by name.
func newDict(args *exec.VarArgs) map[string]any {
	m := make(map[string]any, len(args.Args)/2)
	for i := 0; i+1 < len(args.Args); i += 2 {
		m[args.Args[i].String()] = args.Args[i+1].Interface()
	}
	return m
}

var pyDictMethodNames = strings.Fields(`keys values items get pop setdefault update copy clear`)

// dictMethods copies gonja's dict methods; update, setdefault, pop and
// clear change the map itself (gonja hands methods a copy).
func dictMethods() *exec.MethodSet[map[string]any] {
	m := map[string]exec.Method[map[string]any]{}
	for _, name := range pyDictMethodNames {
		if fn, ok := builtins.Methods.Dict.Get(name); ok {
			m[name] = fn
		}
	}
	m["items"] = func(self map[string]any, sv *exec.Value, args *exec.VarArgs) (any, error) {
		target, ok := reflect.Indirect(sv.Val).Interface().(map[string]any)
		if !ok {
			target = self
		}
		keys := make([]string, 0, len(target))
		for k := range target {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = pyTuple{k, target[k]}
		}
		return out, nil
	}
	for _, name := range []string{"update", "setdefault", "pop", "clear"} {
		orig := m[name]
		if orig == nil {
			continue
		}
		m[name] = func(self map[string]any, sv *exec.Value, args *exec.VarArgs) (any, error) {
			target, ok := reflect.Indirect(sv.Val).Interface().(map[string]any)
			if !ok {
				return orig(self, sv, args)
			}
			res, err := orig(target, sv, args)
			return res, err
		}
	}
	return exec.NewMethodSet(m)
}

// pairsAsTuples turns a filter's list of [key, value] lists into tuples,
// which print as Python prints them.
func pairsAsTuples(orig exec.FilterFunction) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		out := orig(e, in, params)
		if out.IsError() || !out.IsList() {
			return out
		}
		rv := reflect.Indirect(reflect.ValueOf(out.Interface()))
		list := make([]any, rv.Len())
		for i := range list {
			item := exec.ToValue(rv.Index(i))
			if item.IsList() && item.Len() == 2 {
				list[i] = pyTuple{item.Index(0).Interface(), item.Index(1).Interface()}
			} else {
				list[i] = item.Interface()
			}
		}
		return exec.AsValue(list)
	}
}

// filterToJSON is Jinja2's tojson: json.dumps with sorted keys, ASCII
// only, and <, >, &, ' escaped for HTML.
func filterToJSON(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	indent := -1
	if v, ok := params.KwArgs["indent"]; ok && !v.IsNil() {
		indent = v.Integer()
	} else if len(params.Args) > 0 && !params.Args[0].IsNil() {
		indent = params.Args[0].Integer()
	}
	var b strings.Builder
	if err := pyJSON(&b, in, indent, 0); err != nil {
		return exec.AsValue(err)
	}
	r := strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`, "'", `\u0027`)
	return exec.AsSafeValue(r.Replace(b.String()))
}

func pyJSON(b *strings.Builder, v *exec.Value, indent, depth int) error {
	v = exec.ToValue(v.Val)
	if depth > 1000 {
		return fmt.Errorf("tojson: nesting too deep")
	}
	nl := func(d int) {
		if indent >= 0 {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(" ", indent*d))
		}
	}
	sep := ", "
	if indent >= 0 {
		sep = ","
	}
	raw := v.Interface()
	switch {
	case v.IsNil():
		b.WriteString("null")
	case v.IsBool():
		b.WriteString(strconv.FormatBool(v.Bool()))
	case v.IsString():
		jsonString(b, v.String())
	case v.IsInteger():
		b.WriteString(v.String())
	case v.IsFloat():
		f := v.Float()
		switch {
		case math.IsNaN(f):
			b.WriteString("NaN")
		case math.IsInf(f, 1):
			b.WriteString("Infinity")
		case math.IsInf(f, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(pyFloat(f))
		}
	case v.IsList():
		rv := reflect.Indirect(reflect.ValueOf(raw))
		if rv.Len() == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i := range rv.Len() {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(depth + 1)
			if err := pyJSON(b, exec.ToValue(rv.Index(i)), indent, depth+1); err != nil {
				return err
			}
		}
		nl(depth)
		b.WriteByte(']')
	case v.IsDict():
		rv := reflect.Indirect(reflect.ValueOf(raw))
		if rv.Kind() != reflect.Map {
			return fmt.Errorf("tojson: unsupported value %s", v.String())
		}
		keys := rv.MapKeys()
		if len(keys) == 0 {
			b.WriteString("{}")
			return nil
		}
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i].Interface()) < fmt.Sprint(keys[j].Interface()) })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(depth + 1)
			jsonString(b, fmt.Sprint(k.Interface()))
			b.WriteString(": ")
			if err := pyJSON(b, exec.ToValue(rv.MapIndex(k)), indent, depth+1); err != nil {
				return err
			}
		}
		nl(depth)
		b.WriteByte('}')
	default:
		if x, ok := raw.(*big.Int); ok {
			b.WriteString(x.String())
			return nil
		}
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(raw); err != nil {
			return fmt.Errorf("tojson: %w", err)
		}
		b.WriteString(strings.TrimSpace(buf.String()))
	}
	return nil
}

// jsonString writes s as Python's json.dumps does with ensure_ascii.
func jsonString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (r > 0x7f && r <= 0xffff):
				fmt.Fprintf(b, `\u%04x`, r)
			case r > 0xffff:
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(b, `\u%04x\u%04x`, hi, lo)
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// dictGlobal is Python's dict(): from a mapping or (key, value) pairs,
// then keyword arguments. The result is a Go map, like a dict literal.
func dictGlobal(_ *exec.Evaluator, params *exec.VarArgs) *exec.Value {
	m := map[string]any{}
	if len(params.Args) > 1 {
		return exec.AsValue(fmt.Errorf("dict expected at most 1 argument, got %d", len(params.Args)))
	}
	if len(params.Args) == 1 {
		src := params.Args[0]
		switch {
		case src.IsDict():
			for _, k := range src.Keys() {
				v, _ := src.GetItem(k.String())
				m[k.String()] = v.Interface()
			}
		case src.IsList():
			for i := range src.Len() {
				p := src.Index(i)
				if !p.IsList() || p.Len() != 2 {
					return exec.AsValue(fmt.Errorf("dictionary update sequence element #%d has the wrong length", i))
				}
				m[p.Index(0).String()] = p.Index(1).Interface()
			}
		default:
			return exec.AsValue(fmt.Errorf("'%s' object is not iterable", pyTypeName(src)))
		}
	}
	for k, v := range params.KwArgs {
		m[k] = v.Interface()
	}
	return exec.AsValue(m)
}

// filterItems is Jinja2's items: (key, value) tuples, in key order.
func filterItems(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if in.IsNil() {
		return exec.AsValue([]any{})
	}
	if !in.IsDict() {
		return exec.AsValue(fmt.Errorf("can only get item pairs from a mapping"))
	}
	keys := sortedKeys(in)
	out := make([]any, len(keys))
	for i, k := range keys {
		v, _ := in.GetItem(k)
		out[i] = pyTuple{k, v.Interface()}
	}
	return exec.AsValue(out)
}

// sortedKeys lists a mapping's keys in byte order: runner's one order for
// mappings (Go maps keep none).
func sortedKeys(in *exec.Value) []string {
	var keys []string
	for _, k := range in.Keys() {
		keys = append(keys, k.String())
	}
	sort.Strings(keys)
	return keys
}

// attrFilter is Jinja2's attr: getattr only, so a dict's keys are not its
// attributes; what is missing is undefined (an error unless lenient).
func (e *Engine) attrFilter(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	args, err := bindArgs("attr", params, "name")
	if err != nil {
		return exec.AsValue(err)
	}
	if args[0] == nil {
		return exec.AsValue(errors.New("attr() missing 1 required positional argument: 'name'"))
	}
	name := pyStr(args[0])
	if !in.IsDict() && !in.IsNil() {
		if v, ok := in.GetAttribute(name); ok {
			return v
		}
	}
	return exec.AsValue(undefined{msg: fmt.Sprintf("'%s object' has no attribute '%s'", pyTypeName(in), name)})
}

// undefined is a filter's undefined result: an error only once printed
// (StrictUndefined), not defined to the tests, replaced by default.
type undefined struct {
	msg     string
	lenient bool // Jinja2's plain Undefined: prints as empty text
}

func isUndefined(v *exec.Value) bool {
	_, ok := v.Interface().(undefined)
	return ok
}

// pyNamespace is namespace()'s value: a map to gonja (attributes are set
// with {% set ns.x = %}), its own type to tell it from a dict.
type pyNamespace map[string]any

// namespaceGlobal is Jinja2's namespace(*args, **kwargs): dict(*args,
// **kwargs) for its initial attributes.
func namespaceGlobal(ev *exec.Evaluator, params *exec.VarArgs) *exec.Value {
	if len(params.Args) == 1 {
		if _, ok := params.Args[0].Interface().(pyNamespace); ok {
			return exec.AsValue(errors.New("'Namespace' object is not iterable"))
		}
	}
	d := dictGlobal(ev, params)
	if d.IsError() {
		return d
	}
	m, _ := d.Interface().(map[string]any)
	return exec.AsValue(pyNamespace(m))
}
