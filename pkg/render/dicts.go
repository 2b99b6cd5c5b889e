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

	"github.com/nikolalohinski/gonja/v2/exec"
)

// newDict makes a dict literal's value: an ordered mapping (see
// ordered.go), keys in the literal's order; a repeated key keeps its first
// place and its last value, as in Python.
func newDict(args *exec.VarArgs) *exec.Dict {
	b := newDictBuilder(&exec.Dict{Pairs: make([]*exec.Pair, 0, len(args.Args)/2)})
	for i := 0; i+1 < len(args.Args); i += 2 {
		b.set(args.Args[i].String(), args.Args[i+1])
	}
	return b.d
}

// filterDictSort is Jinja2's dictsort(case_sensitive=False, by='key',
// reverse=False): the (key, value) tuples sorted stably, so that equal
// keys or values keep the mapping's order.
func filterDictSort(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	args, err := bindArgs("dictsort", params, "case_sensitive", "by", "reverse")
	if err != nil {
		return exec.AsValue(err)
	}
	if !in.IsDict() {
		return exec.AsValue(fmt.Errorf("'%s' object has no attribute 'items'", pyTypeName(in)))
	}
	caseSensitive := args[0] != nil && args[0].IsTrue()
	reverse := args[2] != nil && args[2].IsTrue()
	pos := 0
	if args[1] != nil {
		switch args[1].String() {
		case "key":
		case "value":
			pos = 1
		default:
			return exec.AsValue(errors.New(`You can only sort by either "key" or "value"`))
		}
	}
	pairs := mappingItems(in)
	items := make([]pyTuple, len(pairs))
	for i, it := range pairs {
		items[i] = pyTuple{it.key, it.value.Interface()}
	}
	var bad error
	sort.SliceStable(items, func(i, j int) bool {
		c, err := sortCompare(exec.ToValue(items[i][pos]), exec.ToValue(items[j][pos]), caseSensitive)
		if err != nil && bad == nil {
			bad = err
		}
		if reverse {
			return c > 0
		}
		return c < 0
	})
	if bad != nil {
		return exec.AsValue(bad)
	}
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it
	}
	return exec.AsValue(out)
}

// sortCompare orders two values as Python's sorted() does, strings
// lower-cased unless caseSensitive (Jinja2's sort key).
func sortCompare(a, b *exec.Value, caseSensitive bool) (int, error) {
	switch {
	case a.IsString() && b.IsString():
		x, y := a.String(), b.String()
		if !caseSensitive {
			x, y = strings.ToLower(x), strings.ToLower(y)
		}
		return strings.Compare(x, y), nil
	case isNum(a) && isNum(b):
		lt := pyCompare("<")(&exec.VarArgs{Args: []*exec.Value{a, b}})
		gt := pyCompare(">")(&exec.VarArgs{Args: []*exec.Value{a, b}})
		switch {
		case lt:
			return -1, nil
		case gt:
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("'<' not supported between instances of '%s' and '%s'", pyTypeName(a), pyTypeName(b))
}

// filterToJSON is Jinja2's tojson: json.dumps with sorted keys (whatever
// the mapping's order), ASCII
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
		if !isMapping(v) {
			return fmt.Errorf("tojson: unsupported value %s", v.String())
		}
		items := mappingItems(v)
		if len(items) == 0 {
			b.WriteString("{}")
			return nil
		}
		sortItems(items) // Jinja2's tojson sorts keys
		b.WriteByte('{')
		for i, it := range items {
			if i > 0 {
				b.WriteString(sep)
			}
			nl(depth + 1)
			jsonString(b, it.key)
			b.WriteString(": ")
			if err := pyJSON(b, it.value, indent, depth+1); err != nil {
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
// then keyword arguments. The result is an ordered mapping, like a dict
// literal.
func dictGlobal(_ *exec.Evaluator, params *exec.VarArgs) *exec.Value {
	d := &exec.Dict{Pairs: []*exec.Pair{}}
	kw := kwargsInOrder(params)
	if len(params.Args) > 1 {
		return exec.AsValue(fmt.Errorf("dict expected at most 1 argument, got %d", len(params.Args)))
	}
	if len(params.Args) == 1 {
		if err := dictUpdate(d, params.Args[0]); err != nil {
			return exec.AsValue(err)
		}
	}
	for _, k := range kw {
		dictSet(d, k, params.KwArgs[k])
	}
	return exec.AsValue(d)
}

// filterItems is Jinja2's items: (key, value) tuples, in the mapping's
// order.
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
	items := mappingItems(in)
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = pyTuple{it.key, it.value.Interface()}
	}
	return exec.AsValue(out)
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
	ns := pyNamespace{}
	for _, it := range mappingItems(d) {
		ns[it.key] = it.value.Interface()
	}
	return exec.AsValue(ns)
}
