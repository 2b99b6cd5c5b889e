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

// keyOf is a pair's key as a string, quickly for the usual string key.
func keyOf(p *exec.Pair) string {
	if p.Key.Val.Kind() == reflect.String {
		return p.Key.Val.String()
	}
	return p.Key.String()
}

// dictSet sets key to value: in place when key is there, last otherwise.
func dictSet(d *exec.Dict, key string, value any) {
	for i, p := range d.Pairs {
		if keyOf(p) == key {
			// a new pair: a copy() of d may share the old one
			d.Pairs[i] = &exec.Pair{Key: p.Key, Value: exec.ToValue(value)}
			return
		}
	}
	d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(key), Value: exec.ToValue(value)})
}

// dictIndex returns the position of key in d, or -1.
func dictIndex(d *exec.Dict, key string) int {
	for i, p := range d.Pairs {
		if keyOf(p) == key {
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
			keys[i] = keyOf(p)
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

// pyIter is fnIter, what a for loop iterates: an ordered mapping's keys as
// a list, which gonja walks in linear time (its own walk of an
// *exec.Dict looks every value up by key), anything else as it is.
func pyIter(args *exec.VarArgs) *exec.Value {
	v := args.Args[0]
	if d, ok := dictOf(v); ok {
		keys := make([]any, len(d.Pairs))
		for i, p := range d.Pairs {
			keys[i] = p.Key.Interface()
		}
		return exec.AsValue(keys)
	}
	return v
}

// dictRecv is the receiver of a dict method call (see pyRecv): a Go map,
// which gonja's evaluator copies in linear time before the call (an
// *exec.Dict it would copy in quadratic time), holding the ordered
// mapping the method works on.
type dictRecv map[string]any

// dictRecvKey holds the *dictHandle in a dictRecv; no template key has
// that name.
const dictRecvKey = "\x00dict"

// dictHandle keeps the ordered mapping opaque to gonja's copy.
type dictHandle struct{ d *exec.Dict }

// String names the receiver in gonja's errors, which it formats for every
// call: not the whole mapping.
func (r dictRecv) String() string { return "dict object" }

// pyRecv is fnRecv, which the rewrite puts around the receiver of every
// call of a dict method's name (x.items(), x.get(k), ...): an ordered
// mapping becomes a dictRecv, anything else stays as it is.
func pyRecv(args *exec.VarArgs) *exec.Value {
	v := args.Args[0]
	if d, ok := dictOf(v); ok {
		return exec.AsValue(dictRecv{dictRecvKey: &dictHandle{d}})
	}
	return v
}

// receiverDict returns the ordered mapping of a dict method's receiver.
func receiverDict(sv *exec.Value) (*exec.Dict, bool) {
	if r, ok := sv.Interface().(dictRecv); ok {
		if h, ok := r[dictRecvKey].(*dictHandle); ok {
			return h.d, true
		}
	}
	return dictOf(sv)
}

// item is a mapping's key and value.
type item struct {
	key   string
	value *exec.Value
}

// mappingItems lists a mapping's items in its order (see mappingKeys),
// without a lookup per key.
func mappingItems(v *exec.Value) []item {
	if d, ok := dictOf(v); ok {
		out := make([]item, len(d.Pairs))
		for i, p := range d.Pairs {
			out[i] = item{keyOf(p), p.Value}
		}
		return out
	}
	keys := sortedKeys(v)
	out := make([]item, len(keys))
	for i, k := range keys {
		x, _ := v.GetItem(k)
		out[i] = item{k, x}
	}
	return out
}

// sortItems sorts items by key (tojson's and pprint's order).
func sortItems(items []item) {
	sort.SliceStable(items, func(i, j int) bool { return items[i].key < items[j].key })
}

// dictBuilder fills an ordered mapping with many keys, each set in
// constant time (dictSet looks the key up).
type dictBuilder struct {
	d     *exec.Dict
	index map[string]int
}

func newDictBuilder(d *exec.Dict) *dictBuilder {
	if d == nil {
		d = &exec.Dict{Pairs: []*exec.Pair{}}
	}
	b := &dictBuilder{d: d, index: make(map[string]int, len(d.Pairs))}
	for i, p := range d.Pairs {
		b.index[keyOf(p)] = i
	}
	return b
}

// set is dictSet.
func (b *dictBuilder) set(key string, value any) {
	if i, ok := b.index[key]; ok {
		b.d.Pairs[i] = &exec.Pair{Key: b.d.Pairs[i].Key, Value: exec.ToValue(value)}
		return
	}
	b.index[key] = len(b.d.Pairs)
	b.d.Pairs = append(b.d.Pairs, &exec.Pair{Key: exec.AsValue(key), Value: exec.ToValue(value)})
}
