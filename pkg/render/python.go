package render

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// pyTuple is a tuple literal's value: a list to gonja, "(a, b)" when printed.
type pyTuple []any

func pyTupleOf(args []*exec.Value) pyTuple {
	t := make(pyTuple, len(args))
	for i, a := range args {
		t[i] = a.Interface()
	}
	return t
}

func (t pyTuple) String() string { return pyRepr(exec.AsValue(t)) }

func isInt(v *exec.Value) bool { return v.IsInteger() || v.IsBool() || isBig(v) }
func isNum(v *exec.Value) bool { return v.IsNumber() || v.IsBool() || isBig(v) }
func asInt(v *exec.Value) int64 {
	if v.IsBool() {
		if v.Bool() {
			return 1
		}
		return 0
	}
	return int64(v.Integer())
}

func asFloat(v *exec.Value) float64 {
	if b, ok := v.Interface().(*big.Int); ok {
		return bigFloat(b)
	}
	if v.IsBool() {
		if v.Bool() {
			return 1
		}
		return 0
	}
	return v.Float()
}

func typeError(op string, a, b *exec.Value) error {
	return fmt.Errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, pyTypeName(a), pyTypeName(b))
}

func twoArgs(args *exec.VarArgs) (*exec.Value, *exec.Value) { return args.Args[0], args.Args[1] }

// pyPow is Python's a ** b: integer for integers, big when it overflows.
func pyPow(args *exec.VarArgs) (any, error) {
	a, b := twoArgs(args)
	if !isNum(a) || !isNum(b) {
		return nil, typeError("** or pow()", a, b)
	}
	if isInt(a) && isInt(b) {
		x, _ := bigOf(a)
		y, _ := bigOf(b)
		if y.Sign() < 0 {
			if x.Sign() == 0 {
				return nil, errors.New("0.0 cannot be raised to a negative power")
			}
			return math.Pow(asFloat(a), asFloat(b)), nil
		}
		if x.BitLen() > 1 && (y.BitLen() > 32 || int64(x.BitLen())*y.Int64() > maxIntBits) {
			return nil, fmt.Errorf("%w: integer power", ErrTooLarge)
		}
		return intResult(new(big.Int).Exp(x, y, nil)), nil
	}
	x, y := asFloat(a), asFloat(b)
	if x == 0 && y < 0 {
		return nil, errors.New("0.0 cannot be raised to a negative power")
	}
	return math.Pow(x, y), nil
}

// maxIntBits bounds the integers ** makes (Python's are unbounded).
const maxIntBits = 1 << 20

// pySub is Python's a - b for numbers.
func pySub(args *exec.VarArgs) (any, error) {
	a, b := twoArgs(args)
	switch {
	case isInt(a) && isInt(b):
		return intOp('-', a, b)
	case isNum(a) && isNum(b):
		return asFloat(a) - asFloat(b), nil
	}
	return nil, typeError("-", a, b)
}

// pyFloorDiv is Python's a // b: rounds toward negative infinity.
func pyFloorDiv(args *exec.VarArgs) (any, error) {
	a, b := twoArgs(args)
	if !isNum(a) || !isNum(b) {
		return nil, typeError("//", a, b)
	}
	if isInt(a) && isInt(b) {
		return intOp('/', a, b)
	}
	x, y := asFloat(a), asFloat(b)
	if y == 0 {
		return nil, errors.New("float floor division by zero")
	}
	return math.Floor(x / y), nil
}

// pyTrueDiv is Python's a / b: always a float, error on zero.
func pyTrueDiv(args *exec.VarArgs) (any, error) {
	a, b := twoArgs(args)
	if !isNum(a) || !isNum(b) {
		return nil, typeError("/", a, b)
	}
	y := asFloat(b)
	if y == 0 {
		if isInt(a) && isInt(b) {
			return nil, errors.New("division by zero")
		}
		return nil, errors.New("float division by zero")
	}
	return asFloat(a) / y, nil
}

// pyMod is Python's a % b: printf-style formatting for a string, else a
// modulo whose sign follows the divisor.
func pyMod(args *exec.VarArgs) (any, error) {
	a, b := twoArgs(args)
	if a.IsString() {
		return pyFormat(a.String(), b)
	}
	if !isNum(a) || !isNum(b) {
		return nil, typeError("%", a, b)
	}
	if isInt(a) && isInt(b) {
		return intOp('%', a, b)
	}
	x, y := asFloat(a), asFloat(b)
	if y == 0 {
		return nil, errors.New("float modulo")
	}
	r := math.Mod(x, y)
	if r != 0 && (r < 0) != (y < 0) {
		r += y
	}
	return r, nil
}

// pyFormat implements the common part of Python's "fmt % values":
// flags -+ 0#, width, precision and the conversions s r a d i u f F e E g G
// x X o c %.
func pyFormat(format string, values *exec.Value) (string, error) {
	var args []*exec.Value
	if _, ok := values.Interface().(pyTuple); ok {
		for i := range values.Len() {
			args = append(args, values.Index(i))
		}
	} else {
		args = []*exec.Value{values}
	}
	mapping := values.IsDict()
	next := func() (*exec.Value, error) {
		if len(args) == 0 {
			return nil, errors.New("not enough arguments for format string")
		}
		v := args[0]
		args = args[1:]
		return v, nil
	}
	var out strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			out.WriteByte(c)
			continue
		}
		j := i + 1
		var key *exec.Value // %(name)s takes the value from a mapping
		if j < len(format) && format[j] == '(' {
			depth, k := 1, j+1
			for ; k < len(format) && depth > 0; k++ {
				switch format[k] {
				case '(':
					depth++
				case ')':
					depth--
				}
			}
			if depth > 0 {
				return "", errors.New("incomplete format key")
			}
			if !mapping {
				return "", errors.New("format requires a mapping")
			}
			name := format[j+1 : k-1]
			v, ok := values.GetItem(name)
			if !ok {
				return "", fmt.Errorf("KeyError: '%s'", name)
			}
			key, j = v, k
		}
		specStart := j
		for j < len(format) && strings.IndexByte("-+ 0#", format[j]) >= 0 {
			j++
		}
		for j < len(format) && format[j] >= '0' && format[j] <= '9' {
			j++
		}
		if j < len(format) && format[j] == '.' {
			j++
			for j < len(format) && format[j] >= '0' && format[j] <= '9' {
				j++
			}
		}
		if j >= len(format) {
			return "", errors.New("incomplete format")
		}
		spec, verb := format[specStart:j], format[j]
		i = j
		if verb == '%' {
			out.WriteByte('%')
			continue
		}
		v := key
		if v == nil {
			var err error
			if v, err = next(); err != nil {
				return "", err
			}
		}
		switch verb {
		case 's', 'r', 'a':
			s := pyStr(v)
			if verb != 's' {
				s = pyRepr(v)
			}
			out.WriteString(fmt.Sprintf("%"+spec+"s", s))
		case 'd', 'i', 'u':
			if !isNum(v) {
				return "", fmt.Errorf("%%%c format: a real number is required, not %s", verb, pyTypeName(v))
			}
			var n any = asInt(v)
			if v.IsFloat() {
				var err error
				if n, err = floatToInt(v.Float()); err != nil {
					return "", err
				}
			}
			if b, ok := bigOf(v); ok && isBig(v) {
				n = b
			}
			out.WriteString(fmt.Sprintf("%"+spec+"d", n)) // *big.Int formats itself
		case 'f', 'F', 'e', 'E', 'g', 'G':
			if !isNum(v) {
				return "", fmt.Errorf("must be real number, not %s", pyTypeName(v))
			}
			if !strings.Contains(spec, ".") {
				spec += ".6"
			}
			out.WriteString(fmt.Sprintf("%"+spec+string(verb), asFloat(v)))
		case 'x', 'X', 'o':
			if !isInt(v) {
				return "", fmt.Errorf("%%%c format: an integer is required, not %s", verb, pyTypeName(v))
			}
			out.WriteString(fmt.Sprintf("%"+strings.ReplaceAll(spec, "#", "")+string(verb), asInt(v)))
		case 'c':
			if isInt(v) {
				out.WriteString(fmt.Sprintf("%"+spec+"c", rune(asInt(v))))
			} else {
				out.WriteString(fmt.Sprintf("%"+spec+"s", v.String()))
			}
		default:
			return "", fmt.Errorf("unsupported format character '%c' (0x%x)", verb, verb)
		}
	}
	if len(args) > 0 && !mapping {
		return "", errors.New("not all arguments converted during string formatting")
	}
	return out.String(), nil
}

// pyStr is Python's str() of a template value.
func pyStr(v *exec.Value) string {
	v = exec.ToValue(v.Val)
	if isUndefined(v) {
		return "" // Jinja2's Undefined prints empty; strict ones fail before
	}
	if v.IsNil() {
		return "None"
	}
	if v.IsString() {
		return v.String()
	}
	return pyRepr(v)
}

// pyRepr is Python's repr() of a template value. Mappings print in their
// order (see ordered.go).
func pyRepr(v *exec.Value) string { return repr(v, false) }

// repr is pyRepr, with mappings in sorted key order if sorted (pprint's).
func repr(v *exec.Value, sorted bool) string {
	v = exec.ToValue(v.Val)
	if v.IsNil() {
		return "None"
	}
	raw := v.Interface()
	if isGonjaTuple(raw) {
		raw = pyTuple(listOf(v))
	}
	switch x := raw.(type) {
	case pyTuple:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = repr(exec.ToValue(e), sorted)
		}
		if len(parts) == 1 {
			return "(" + parts[0] + ",)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	case *big.Int:
		return x.String()
	case dictKeysView:
		return "dict_keys(" + repr(exec.AsValue([]any(x)), sorted) + ")"
	case dictValuesView:
		return "dict_values(" + repr(exec.AsValue([]any(x)), sorted) + ")"
	case dictItemsView:
		return "dict_items(" + repr(exec.AsValue([]any(x)), sorted) + ")"
	case pyNamespace:
		return "<Namespace " + repr(exec.AsValue(map[string]any(x)), sorted) + ">"
	}
	switch {
	case v.IsBool():
		if v.Bool() {
			return "True"
		}
		return "False"
	case v.IsString():
		return pyQuote(v.String())
	case v.IsInteger():
		return v.String()
	case v.IsFloat():
		return pyFloat(v.Float())
	case v.IsList():
		rv := reflect.Indirect(reflect.ValueOf(raw))
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = repr(exec.ToValue(rv.Index(i)), sorted)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case v.IsDict() && isMapping(v):
		items := mappingItems(v)
		if sorted {
			sortItems(items)
		}
		parts := make([]string, len(items))
		for i, it := range items {
			parts[i] = pyQuote(it.key) + ": " + repr(it.value, sorted)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	if s, ok := raw.(fmt.Stringer); ok {
		return s.String()
	}
	return v.String()
}

// pyFloat formats like Python's float repr: shortest round-trip digits,
// scientific below 1e-4 and from 1e16 on.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// pyQuote is Python's repr of a str.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r > 0x7f && !unicode.IsPrint(r):
			if r <= 0xff {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else if r <= 0xffff {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// isGonjaTuple tells gonja's own pair types (groupby's (grouper, list),
// which also answers .grouper and .list) that Python prints as tuples.
func isGonjaTuple(raw any) bool {
	t := reflect.TypeOf(raw)
	return t != nil && t.PkgPath() == builtinsPkg && (t.Name() == "groupTupleValue" || t.Name() == "tupleValue")
}

const builtinsPkg = "github.com/nikolalohinski/gonja/v2/builtins"

// pyTypeName names a value's Python type for error messages.
func pyTypeName(v *exec.Value) string {
	switch {
	case v.IsNil():
		return "NoneType"
	case v.IsBool():
		return "bool"
	case v.IsString():
		return "str"
	case v.IsInteger() || isBig(v):
		return "int"
	case v.IsFloat():
		return "float"
	case v.IsList():
		if _, ok := v.Interface().(pyTuple); ok || isGonjaTuple(v.Interface()) {
			return "tuple"
		}
		return "list"
	case v.IsDict():
		return "dict"
	}
	return "object"
}

// maxRange bounds range(): gonja materializes a loop's items before the
// first iteration, so a huge range would take unbounded time and memory.
const maxRange = 100_000

// pyRange is Python's range() as a list, refused beyond maxRange items.
func pyRange(args *exec.VarArgs) ([]int, error) {
	var start, stop, step int64 = 0, 0, 1
	for _, a := range args.Args {
		if !isInt(a) {
			return nil, fmt.Errorf("'%s' object cannot be interpreted as an integer", pyTypeName(a))
		}
	}
	switch len(args.Args) {
	case 1:
		stop = asInt(args.Args[0])
	case 2:
		start, stop = asInt(args.Args[0]), asInt(args.Args[1])
	case 3:
		start, stop, step = asInt(args.Args[0]), asInt(args.Args[1]), asInt(args.Args[2])
	default:
		return nil, fmt.Errorf("range expected 1 to 3 arguments, got %d", len(args.Args))
	}
	if step == 0 {
		return nil, errors.New("range() arg 3 must not be zero")
	}
	n := int64(0)
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		n = (start - stop - step - 1) / -step
	}
	if n > maxRange {
		return nil, fmt.Errorf("%w: range of %d items (limit %d)", ErrTooLarge, n, maxRange)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(start + int64(i)*step)
	}
	return out, nil
}

// pyEqual is Python's ==: numbers (and bools) by value, a tuple never
// equals a list, containers item by item.
func pyEqual(a, b *exec.Value) bool {
	a, b = exec.ToValue(a.Val), exec.ToValue(b.Val)
	switch {
	case a.IsNil() || b.IsNil():
		return a.IsNil() && b.IsNil()
	case isNum(a) && isNum(b):
		if isBig(a) || isBig(b) {
			c, ok := numCmp(a, b)
			return ok && c == 0
		}
		if isInt(a) && isInt(b) {
			return asInt(a) == asInt(b)
		}
		return asFloat(a) == asFloat(b)
	case a.IsString() || b.IsString():
		return a.IsString() && b.IsString() && a.String() == b.String()
	case a.IsList() && b.IsList():
		_, ta := a.Interface().(pyTuple)
		_, tb := b.Interface().(pyTuple)
		if ta != tb {
			return false
		}
		x, y := listOf(a), listOf(b)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !pyEqual(exec.ToValue(x[i]), exec.ToValue(y[i])) {
				return false
			}
		}
		return true
	case a.IsDict() && b.IsDict():
		if !isMapping(a) || !isMapping(b) {
			return a.EqualValueTo(b)
		}
		x, y := mappingItems(a), mappingItems(b)
		if len(x) != len(y) {
			return false
		}
		other := make(map[string]*exec.Value, len(y))
		for _, it := range y {
			other[it.key] = it.value
		}
		for _, it := range x {
			w, ok := other[it.key]
			if !ok || !pyEqual(it.value, w) {
				return false
			}
		}
		return true
	}
	return a.EqualValueTo(b)
}
