package workflow

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"github.com/birdflock/runner/pkg/workflow/expr"
	"gopkg.in/yaml.v3"
)

// Combo is one matrix combination. Keys keep the matrix's order, which
// GitHub uses to name the job ("build (1.22, linux)"). Values are
// expression values (see expr.Normalize): objects are *expr.Object and keep
// the order their keys were written in.
type Combo struct {
	Keys   []string
	Values map[string]any
}

// Suffix is the " (a, b)" GitHub appends to a matrix job's name.
func (c Combo) Suffix() string {
	if len(c.Keys) == 0 {
		return ""
	}
	// Objects and arrays show their values flattened in order, so that
	// legs that differ only inside an object get different names.
	var parts []string
	var flat func(v any)
	flat = func(v any) {
		switch x := expr.Normalize(v).(type) {
		case *expr.Object:
			for _, e := range x.Values() {
				flat(e)
			}
		case []any:
			for _, e := range x {
				flat(e)
			}
		case nil:
			parts = append(parts, "")
		default:
			parts = append(parts, expr.String(x))
		}
	}
	for _, k := range c.Keys {
		flat(c.Values[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// Context is the matrix context of the combination: an object with the
// keys in matrix order, or null (nil) for a job without a matrix, as in
// GitHub.
func (c Combo) Context() any {
	if len(c.Keys) == 0 {
		return nil
	}
	o := expr.NewObject()
	for _, k := range c.Keys {
		o.Set(k, c.Values[k])
	}
	return o
}

// Matrix is a matrix definition after its expressions were evaluated.
// Entries of Include and Exclude keep the order their keys were written in.
type Matrix struct {
	Keys    []string // in definition order
	Vectors map[string][]any
	Include []*expr.Object
	Exclude []*expr.Object
}

// DecodeMatrix turns a matrix node into a Matrix. expand is called on every
// string that holds an expression (and on a whole-matrix expression) and
// should evaluate it as GitHub does (expr.Template.EvalExact: text around a
// lone ${{ }}, whitespace included, makes a string); its results are
// converted with expr.Normalize. The matrix takes GitHub's
// template forms (see parse_template.go): keys computed by expressions,
// ${{ insert }}, and sequence items that are one expression giving an
// array, spliced into the sequence. An error from expand or about one
// value is a *PosError with the value's position.
func DecodeMatrix(n *yaml.Node, expand func(string) (any, error)) (*Matrix, error) {
	n = resolve(n)
	// Decoding once first makes yaml.v3 refuse alias bombs before the walk
	// below expands aliases.
	var raw any
	if err := n.Decode(&raw); err != nil {
		return nil, err
	}
	v, err := nodeValue(n, expand)
	if err != nil {
		return nil, err
	}
	m, ok := v.(*expr.Object)
	if !ok {
		if n.Kind == yaml.ScalarNode {
			return nil, fmt.Errorf("matrix expression must give an object, not %s", expr.KindOf(v))
		}
		return nil, fmt.Errorf("matrix must be a mapping")
	}
	return matrixFromObject(m)
}

// nodeValue converts a YAML node to an expression value, keeping the order
// of mapping keys and evaluating strings that hold expressions, with
// GitHub's template forms: a mapping key holding an expression is
// computed (it must give a string, number or boolean), a ${{ insert }}
// key's value (an expression that gives an object, or a written-out
// mapping) gives entries in its place, and a sequence item that is
// exactly one ${{ }} giving an array is spliced into the sequence. Keys
// are unique ignoring case, as GitHub's template evaluator requires.
func nodeValue(n *yaml.Node, expand func(string) (any, error)) (any, error) {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		o := expr.NewObject()
		// seen: whether each key (lower-cased) came from a template form;
		// written-out keys that differ in case are validation's concern.
		seen := map[string]bool{}
		set := func(k *yaml.Node, key string, v any, computed bool) error {
			if was, dup := seen[strings.ToLower(key)]; dup && (was || computed) {
				return &PosError{Pos: textPos(k), Err: fmt.Errorf("key %q is already defined (GitHub compares keys ignoring case)", key)}
			}
			seen[strings.ToLower(key)] = computed
			o.Set(key, v)
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if IsInsert(k.Value) {
				v, err := nodeValue(n.Content[i+1], expand)
				if err != nil {
					return nil, err
				}
				ins, ok := v.(*expr.Object)
				if !ok {
					return nil, &PosError{Pos: textPos(resolve(n.Content[i+1])), Err: fmt.Errorf("${{ insert }} must give an object (a mapping), not %s", KindPhrase(v))}
				}
				vals := ins.Values()
				for j, key := range ins.Keys() {
					if err := set(resolve(n.Content[i+1]), key, vals[j], true); err != nil {
						return nil, err
					}
				}
				continue
			}
			key := k.Value
			if strings.Contains(key, "${{") {
				kv, err := expandAt(k, expand)
				if err != nil {
					return nil, err
				}
				switch kv.(type) {
				case *expr.Object, []any:
					return nil, &PosError{Pos: textPos(k), Err: fmt.Errorf("the key %s must give a string, number or boolean, not %s", k.Value, KindPhrase(kv))}
				}
				if key = expr.String(kv); key == "" {
					return nil, &PosError{Pos: textPos(k), Err: fmt.Errorf("the key %s gives an empty string", k.Value)}
				}
			}
			v, err := nodeValue(n.Content[i+1], expand)
			if err != nil {
				return nil, err
			}
			if err := set(k, key, v, strings.Contains(k.Value, "${{")); err != nil {
				return nil, err
			}
		}
		return o, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c, expand)
			if err != nil {
				return nil, err
			}
			if list, ok := v.([]any); ok && isExprString(resolve(c)) && WholeExpr(resolve(c).Value) {
				out = append(out, list...)
				continue
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		if isExprString(n) {
			return expandAt(n, expand)
		}
		switch n.Tag { // the common tags without Decode's reflection
		case "!!str":
			return n.Value, nil
		case "!!null":
			return nil, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		return expr.Normalize(v), nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

func isExprString(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!str" && strings.Contains(n.Value, "${{")
}

// expandAt evaluates the expressions of a string node; an error gets the
// node's position (errDynamic stays as it is).
func expandAt(n *yaml.Node, expand func(string) (any, error)) (any, error) {
	v, err := expand(n.Value)
	if err != nil {
		if errors.Is(err, errDynamic) {
			return nil, err
		}
		return nil, &PosError{Pos: textPos(n), Err: err}
	}
	return expr.Normalize(v), nil
}

// textPos is where a scalar's text starts: one column after the quote of
// a quoted one.
func textPos(n *yaml.Node) Pos {
	p := posOf(n)
	if quoted(n) {
		p.Col++
	}
	return p
}

// PosError is an error about the value at Pos.
type PosError struct {
	Pos Pos
	Err error
}

func (e *PosError) Error() string { return e.Err.Error() }
func (e *PosError) Unwrap() error { return e.Err }

func matrixFromObject(m *expr.Object) (*Matrix, error) {
	mx := &Matrix{Vectors: map[string][]any{}}
	vals := m.Values()
	for i, k := range m.Keys() {
		v := vals[i]
		switch k {
		case "include", "exclude":
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("matrix %s must be a list of mappings, not %s", k, expr.KindOf(v))
			}
			for _, e := range list {
				em, ok := e.(*expr.Object)
				if !ok {
					return nil, fmt.Errorf("matrix %s entries must be mappings, not %s", k, expr.KindOf(e))
				}
				if k == "include" {
					mx.Include = append(mx.Include, em)
				} else {
					mx.Exclude = append(mx.Exclude, em)
				}
			}
		default:
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("matrix key %q must be a list, not %s", k, expr.KindOf(v))
			}
			if len(list) == 0 {
				return nil, fmt.Errorf("matrix key %q is an empty list", k)
			}
			mx.Keys = append(mx.Keys, k)
			mx.Vectors[k] = list
		}
	}
	for _, e := range mx.Exclude {
		for _, k := range e.Keys() {
			if _, ok := mx.Vectors[k]; !ok {
				return nil, fmt.Errorf("matrix exclude key %q does not match any key of the matrix", k)
			}
		}
	}
	return mx, nil
}

// Limits on a matrix. GitHub allows 256 legs; the cross product may be
// larger when exclude brings it down, up to maxProduct. They are checked
// from the vectors' lengths before anything is expanded, so that a small
// file cannot make runner build millions of legs.
const (
	// maxCombos is GitHub's limit of jobs per matrix.
	maxCombos = 256
	// maxProduct bounds the cross product of the vectors, before exclude.
	maxProduct = 64 * maxCombos
	// maxExcludeWork bounds the product times the number of exclude
	// entries: the comparisons needed to apply them.
	maxExcludeWork = 1 << 22
	// maxValues bounds the values of all legs together (legs × keys).
	maxValues = maxCombos * 256
)

// Product is the size of the cross product of the vectors, before exclude
// and include. It fails, without expanding anything, when the product is
// over what exclude could bring down to GitHub's limit.
func (m *Matrix) Product() (int, error) {
	p := 1
	if len(m.Keys) == 0 {
		p = 0
	}
	for _, k := range m.Keys {
		n := len(m.Vectors[k])
		hi, lo := bits.Mul64(uint64(p), uint64(n))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("matrix has more than %d combinations; GitHub's limit is %d", uint64(math.MaxInt64), maxCombos)
		}
		p = int(lo)
	}
	if p > maxProduct {
		return p, fmt.Errorf("matrix has %d combinations; GitHub's limit is %d", p, maxCombos)
	}
	if p*len(m.Exclude) > maxExcludeWork {
		return p, fmt.Errorf("matrix has %d combinations and %d exclude entries, too many to apply; GitHub's limit is %d combinations", p, len(m.Exclude), maxCombos)
	}
	return p, nil
}

// Combos expands the matrix as GitHub does: the cross product of the
// vectors, minus exclude entries, then include entries merged into every
// combination whose original values they do not change, or added as new
// combinations when they fit none. The limits are checked before the
// legs are built.
func (m *Matrix) Combos() ([]Combo, error) {
	product, err := m.Product()
	if err != nil {
		return nil, err
	}
	tooMany := fmt.Errorf("matrix has more than %d combinations; GitHub's limit is %d", maxCombos, maxCombos)
	// Walk the product as an odometer of indices, keeping only the
	// tuples that no exclude entry matches.
	pos := make(map[string]int, len(m.Keys))
	for d, k := range m.Keys {
		pos[k] = d
	}
	var kept [][]int
	idx := make([]int, len(m.Keys))
	for i := 0; i < product; i++ {
		if !m.excluded(idx, pos) {
			if len(kept) == maxCombos {
				return nil, tooMany
			}
			kept = append(kept, append([]int(nil), idx...))
		}
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < len(m.Vectors[m.Keys[d]]) {
				break
			}
			idx[d] = 0
		}
	}
	values := len(kept) * len(m.Keys)
	if values > maxValues {
		return nil, fmt.Errorf("matrix has %d values in %d combinations; the limit is %d", values, len(kept), maxValues)
	}
	combos := make([]Combo, 0, len(kept))
	for _, t := range kept {
		c := Combo{Keys: append([]string(nil), m.Keys...), Values: make(map[string]any, len(m.Keys))}
		for d, k := range m.Keys {
			c.Values[k] = m.Vectors[k][t[d]]
		}
		combos = append(combos, c)
	}
	original := len(combos)
	for _, inc := range m.Include {
		keys, vals := inc.Keys(), inc.Values()
		added := false
		for i := 0; i < original; i++ {
			c := &combos[i]
			ok := true
			for j, k := range keys {
				if _, isOrig := m.Vectors[k]; isOrig && !equal(c.Values[k], vals[j]) {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			added = true
			for j, k := range keys {
				if _, has := c.Values[k]; !has {
					c.Keys = append(c.Keys, k)
					values++
				}
				c.Values[k] = vals[j]
			}
		}
		if !added {
			if len(combos) == maxCombos {
				return nil, tooMany
			}
			c := Combo{Values: map[string]any{}}
			for j, k := range keys {
				c.Keys = append(c.Keys, k)
				c.Values[k] = vals[j]
			}
			values += len(keys)
			combos = append(combos, c)
		}
		if values > maxValues {
			return nil, fmt.Errorf("matrix has more than %d values in %d combinations; the limit is %d", maxValues, len(combos), maxValues)
		}
	}
	if len(combos) == 0 {
		return nil, fmt.Errorf("matrix has no combinations")
	}
	return combos, nil
}

// excluded reports whether an exclude entry matches the combination at
// the vectors' indices idx; pos maps a key to its place in idx.
func (m *Matrix) excluded(idx []int, pos map[string]int) bool {
	return m.excludedBy(idx, pos) >= 0
}

// excludedBy returns the index of the first exclude entry that matches
// the combination at the vectors' indices idx, or -1.
func (m *Matrix) excludedBy(idx []int, pos map[string]int) int {
	for i, e := range m.Exclude {
		vals := e.Values()
		match := true
		for j, k := range e.Keys() {
			d, ok := pos[k]
			if !ok || !matchesExclude(m.Vectors[k][idx[d]], vals[j]) {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

// matchesExclude tells whether an exclude value matches a matrix value, as
// GitHub compares them: an object matches an object that has each of its
// keys with a matching value (a partial match, at any depth), an array
// matches an array of the same length item by item, and other values
// must be equal.
func matchesExclude(v, ex any) bool {
	switch x := ex.(type) {
	case *expr.Object:
		y, ok := v.(*expr.Object)
		if !ok {
			return false
		}
		xv := x.Values()
		for i, k := range x.Keys() {
			yv, ok := y.Get(k)
			if !ok || !matchesExclude(yv, xv[i]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := v.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !matchesExclude(y[i], x[i]) {
				return false
			}
		}
		return true
	}
	return equal(v, ex)
}

// equal compares two expression values by content; the order of object
// keys does not matter.
func equal(a, b any) bool {
	switch x := a.(type) {
	case *expr.Object:
		y, ok := b.(*expr.Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		xv := x.Values()
		for i, k := range x.Keys() {
			yv, ok := y.Get(k)
			if !ok || !equal(xv[i], yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}
