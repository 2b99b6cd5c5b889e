package render

import (
	"reflect"
	"sort"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Mappings keep their insertion order, as Python's dicts do: dict literals,
// dict() and the mappings of data files are *exec.Dict, gonja's ordered
// mapping, which its for loops, filters and tests iterate in order. Keys
// are strings, as gonja looks attributes and items up by name. Go maps
// (passed in by callers, made by gonja itself) still work: they list their
// keys in sorted order, runner's one deterministic order for them.

// dictOf returns v's ordered mapping, if it is one.
func dictOf(v *exec.Value) (*exec.Dict, bool) {
	switch d := v.Interface().(type) {
	case *exec.Dict:
		return d, d != nil
	case exec.Dict:
		return &d, true
	}
	return nil, false
}

// dictSet sets key to value: in place when key is there, last otherwise.
func dictSet(d *exec.Dict, key string, value any) {
	for _, p := range d.Pairs {
		if p.Key.String() == key {
			p.Value = exec.ToValue(value)
			return
		}
	}
	d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(key), Value: exec.ToValue(value)})
}

// dictIndex returns the position of key in d, or -1.
func dictIndex(d *exec.Dict, key string) int {
	for i, p := range d.Pairs {
		if p.Key.String() == key {
			return i
		}
	}
	return -1
}

// mappingKeys lists a mapping's keys: in insertion order for an ordered
// mapping, sorted for a Go map.
func mappingKeys(v *exec.Value) []string {
	if d, ok := dictOf(v); ok {
		keys := make([]string, len(d.Pairs))
		for i, p := range d.Pairs {
			keys[i] = p.Key.String()
		}
		return keys
	}
	return sortedKeys(v)
}

// sortedKeys lists a mapping's keys in byte order.
func sortedKeys(in *exec.Value) []string {
	var keys []string
	for _, k := range in.Keys() {
		keys = append(keys, k.String())
	}
	sort.Strings(keys)
	return keys
}

// mappingGet returns the value at key of a mapping.
func mappingGet(v *exec.Value, key string) (*exec.Value, bool) {
	if d, ok := dictOf(v); ok {
		if i := dictIndex(d, key); i >= 0 {
			return d.Pairs[i].Value, true
		}
		return exec.AsValue(nil), false
	}
	return v.GetItem(key)
}

// orderedCopy converts a data value for a render: mappings become ordered
// mappings (a Go map's keys sorted), lists become shared pointer lists (see
// newList), all of it copied so that the caller's data is not changed.
func orderedCopy(v any) any {
	switch x := v.(type) {
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = orderedCopy(e)
		}
		return &l
	case *exec.Dict:
		d := &exec.Dict{Pairs: make([]*exec.Pair, len(x.Pairs))}
		for i, p := range x.Pairs {
			d.Pairs[i] = &exec.Pair{Key: p.Key, Value: exec.ToValue(orderedCopy(p.Value.Interface()))}
		}
		return d
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := &exec.Dict{Pairs: make([]*exec.Pair, len(keys))}
		for i, k := range keys {
			d.Pairs[i] = &exec.Pair{Key: exec.AsValue(k), Value: exec.ToValue(orderedCopy(x[k]))}
		}
		return d
	}
	return v
}

// isMapping tells a mapping value with string keys from gonja's other
// dict-like values.
func isMapping(v *exec.Value) bool {
	if _, ok := dictOf(v); ok {
		return true
	}
	rv := reflect.Indirect(reflect.ValueOf(v.Interface()))
	return rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String
}

// pyTruth is Python's truth of a value: gonja's, but for an ordered
// mapping, which gonja finds true even when empty.
func pyTruth(v *exec.Value) bool {
	if d, ok := dictOf(v); ok {
		return len(d.Pairs) > 0
	}
	return v.IsTrue()
}

// pyTruthy is fnTruthy: v itself, but an empty ordered mapping becomes an
// empty Go map, which gonja's truth tests find false and which prints the
// same.
func pyTruthy(args *exec.VarArgs) *exec.Value {
	v := args.Args[0]
	if d, ok := dictOf(v); ok && len(d.Pairs) == 0 {
		return exec.AsValue(map[string]any{})
	}
	return v
}
