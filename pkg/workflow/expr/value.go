package expr

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Object is an expression object: keys keep their insertion order (toJSON
// prints them in that order) and are looked up case-insensitively; of two
// keys differing only in case, the first one wins, as in GitHub.
type Object struct {
	keys  []string
	vals  []any
	index map[string]int // folded key -> position, built for larger objects
}

// indexFrom is the size from which an Object keeps a lookup map.
const indexFrom = 8

// NewObject returns an empty object.
func NewObject() *Object { return &Object{} }

// Len is the number of keys.
func (o *Object) Len() int { return len(o.keys) }

// Keys returns the keys in insertion order.
func (o *Object) Keys() []string { return o.keys }

// Values returns the values in key order.
func (o *Object) Values() []any { return o.vals }

// Get looks key up case-insensitively.
func (o *Object) Get(key string) (any, bool) {
	if i := o.find(key); i >= 0 {
		return o.vals[i], true
	}
	return nil, false
}

func (o *Object) find(key string) int {
	if o.index != nil {
		if i, ok := o.index[fold(key)]; ok {
			return i
		}
		return -1
	}
	folded := ""
	for i, k := range o.keys {
		if k == key {
			return i
		}
		if isASCII(k) && isASCII(key) {
			if strings.EqualFold(k, key) {
				return i
			}
			continue
		}
		if folded == "" {
			folded = fold(key)
		}
		if fold(k) == folded {
			return i
		}
	}
	return -1
}

// Set adds key, or replaces the value of the existing key that matches it
// case-insensitively. The value is normalized.
func (o *Object) Set(key string, v any) {
	v = Normalize(v)
	if i := o.find(key); i >= 0 {
		o.vals[i] = v
		return
	}
	o.add(key, v)
}

// add appends a key known to be absent; v must be normalized.
func (o *Object) add(key string, v any) {
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
	if o.index != nil {
		o.index[fold(key)] = len(o.keys) - 1
	} else if len(o.keys) > indexFrom {
		o.index = make(map[string]int, len(o.keys)*2)
		for i := len(o.keys) - 1; i >= 0; i-- {
			o.index[fold(o.keys[i])] = i
		}
	}
}

// MarshalJSON prints the object compactly, keys in order.
func (o *Object) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	writeJSON(&b, o, "", "")
	return []byte(b.String()), nil
}

// fold is the case folding used for object keys: JavaScript's
// toLowerCase, as GitHub's dictionaries use (so ΑΣ matches ας, İ matches
// i + combining dot, and the long ſ does not match s).
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return lowerJS(s)
		}
		if 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// filtered is the result of a .* or [*] filter. It is an Array to every
// function, but indexing it applies the index to each element.
type filtered []any

// Normalize turns Go values into expression values: nil, bool, float64,
// string, []any and *Object. Maps become objects with sorted keys (Go maps
// have no order); integers and other numbers become float64; structs and
// other types go through encoding/json. Already normalized values are
// returned as they are, without copying.
func Normalize(v any) any {
	switch t := v.(type) {
	case nil, bool, float64, string, *Object:
		return v
	case filtered:
		return []any(t)
	case []any:
		for i, e := range t {
			if n := Normalize(e); !sameValue(n, e) {
				c := make([]any, len(t), max(len(t), 1))
				copy(c, t[:i])
				c[i] = n
				for j := i + 1; j < len(t); j++ {
					c[j] = Normalize(t[j])
				}
				return c
			}
		}
		return t
	case map[string]any:
		o := &Object{}
		for _, k := range sortedKeys(t) {
			o.add(k, Normalize(t[k]))
		}
		return o
	case map[string]string:
		o := &Object{}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			o.add(k, t[k])
		}
		return o
	case []string:
		a := make([]any, len(t), max(len(t), 1))
		for i, s := range t {
			a[i] = s
		}
		return a
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case int32:
		return float64(t)
	case uint:
		return float64(t)
	case uint64:
		return float64(t)
	case uint32:
		return float64(t)
	case float32:
		return float64(t)
	case json.Number:
		return jsNumber(string(t))
	case json.RawMessage:
		if x, err := ParseJSON(t); err == nil {
			return x
		}
		return nil
	}
	// Anything else: through encoding/json, then our ordered decoder.
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	x, err := ParseJSON(data)
	if err != nil {
		return fmt.Sprint(v)
	}
	return x
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sameValue reports whether Normalize left a value untouched.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		return ok && sameArray(x, y)
	case *Object:
		y, ok := b.(*Object)
		return ok && x == y
	case nil, bool, float64, string:
		return a == b || (isNaNValue(a) && isNaNValue(b))
	}
	return false
}

func isNaNValue(v any) bool {
	f, ok := v.(float64)
	return ok && math.IsNaN(f)
}

// sameArray is reference equality of arrays, as GitHub compares them.
func sameArray(a, b []any) bool {
	if len(a) != len(b) || cap(a) != cap(b) {
		return false
	}
	return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
}

// Plain converts an expression value back to plain Go values (objects
// become map[string]any), e.g. for encoding/json or YAML.
func Plain(v any) any {
	switch t := v.(type) {
	case *Object:
		m := make(map[string]any, t.Len())
		for i, k := range t.keys {
			m[k] = Plain(t.vals[i])
		}
		return m
	case filtered:
		return Plain([]any(t))
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = Plain(e)
		}
		return a
	}
	return Normalize(v)
}

// KindOf names the kind of a value as GitHub does: Null, Boolean, Number,
// String, Array or Object.
func KindOf(v any) string {
	switch Normalize(v).(type) {
	case nil:
		return "Null"
	case bool:
		return "Boolean"
	case float64:
		return "Number"
	case string:
		return "String"
	case []any:
		return "Array"
	}
	return "Object"
}

// kind is KindOf for normalized values, without normalizing again.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "Null"
	case bool:
		return "Boolean"
	case float64:
		return "Number"
	case string:
		return "String"
	case []any, filtered:
		return "Array"
	}
	return "Object"
}

func isPrimitive(v any) bool {
	switch v.(type) {
	case nil, bool, float64, string:
		return true
	}
	return false
}

// Truthy is GitHub's conversion to boolean: null, false, 0, NaN and ""
// are false; everything else (including empty arrays and objects) is true.
func Truthy(v any) bool {
	switch t := Normalize(v).(type) {
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

// String is GitHub's coercion to string, what ${{ }} interpolation prints:
// null is "", booleans "true"/"false", numbers in their shortest form with
// at most 15 decimals (1, 1.5, -0 as 0), arrays "Array", objects "Object".
func String(v any) string {
	switch t := Normalize(v).(type) {
	case nil:
		return ""
	case bool:
		if t {
			return "true"
		}
		return "false"
	case float64:
		return numberString(t)
	case string:
		return t
	case []any:
		return "Array"
	}
	return "Object"
}

// toString is String for normalized values.
func toString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case bool:
		if t {
			return "true"
		}
		return "false"
	case float64:
		return numberString(t)
	case string:
		return t
	case []any, filtered:
		return "Array"
	}
	return "Object"
}

// toNumber is GitHub's coercion to number.
func toNumber(v any) float64 {
	switch t := v.(type) {
	case nil:
		return 0
	case bool:
		if t {
			return 1
		}
		return 0
	case float64:
		return t
	case string:
		return jsNumber(t)
	}
	return math.NaN()
}

// numberString formats a number as GitHub does when coercing to string:
// rounded to 15 decimals, then printed in its shortest form.
func numberString(f float64) string {
	if f == 0 {
		return "0"
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= 1e21 {
		return jsNumberString(f)
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 15, 64), 64)
	if err != nil {
		return jsNumberString(f)
	}
	return jsNumberString(r)
}

// jsNumberString prints a number the way JavaScript's Number#toString
// does (also the form toJSON uses).
func jsNumberString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	sign := ""
	if f < 0 {
		sign = "-"
		f = -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k := len(digits)
	n := x + 1 // position of the decimal point
	var s string
	switch {
	case k <= n && n <= 21:
		s = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		s = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		s = "0." + strings.Repeat("0", -n) + digits
	default:
		s = digits[:1]
		if k > 1 {
			s += "." + digits[1:]
		}
		if n-1 >= 0 {
			s += "e+" + strconv.Itoa(n-1)
		} else {
			s += "e-" + strconv.Itoa(1-n)
		}
	}
	return sign + s
}

// jsNumber converts a string to a number as JavaScript's Number() does:
// surrounding whitespace ignored, "" is 0, 0x/0o/0b prefixes, Infinity,
// decimal with exponent; anything else is NaN.
func jsNumber(s string) float64 {
	s = strings.TrimFunc(s, isJSSpace)
	if s == "" {
		return 0
	}
	if len(s) > 2 && s[0] == '0' {
		base := 0
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			return radixNumber(s[2:], base)
		}
	}
	switch s {
	case "Infinity", "+Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	if !isDecimal(s) {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return math.NaN()
	}
	return f
}

func radixNumber(s string, base int) float64 {
	var f float64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d int
		switch {
		case '0' <= c && c <= '9':
			d = int(c - '0')
		case 'a' <= c && c <= 'f':
			d = int(c-'a') + 10
		case 'A' <= c && c <= 'F':
			d = int(c-'A') + 10
		default:
			return math.NaN()
		}
		if d >= base {
			return math.NaN()
		}
		f = f*float64(base) + float64(d)
	}
	if f >= 1<<53 {
		// Past 2^53 each step above may round; JavaScript rounds the
		// exact value once.
		n, _ := new(big.Int).SetString(s, base)
		f, _ = new(big.Float).SetInt(n).Float64()
	}
	return f
}

// isDecimal checks [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isJSSpace is JavaScript's white space and line terminator set (\s).
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return 0x2000 <= r && r <= 0x200a
}
