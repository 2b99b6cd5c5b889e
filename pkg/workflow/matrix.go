package workflow

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Combo is one matrix combination. Keys keep the matrix's order, which
// GitHub uses to name the job ("build (1.22, linux)").
type Combo struct {
	Keys   []string
	Values map[string]any
}

// Suffix is the " (a, b)" GitHub appends to a matrix job's name.
func (c Combo) Suffix() string {
	if len(c.Keys) == 0 {
		return ""
	}
	parts := make([]string, len(c.Keys))
	for i, k := range c.Keys {
		parts[i] = fmt.Sprint(displayValue(c.Values[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func displayValue(v any) any {
	switch v.(type) {
	case map[string]any, []any:
		return "Object"
	case nil:
		return ""
	}
	return v
}

// Matrix is a matrix definition after its expressions were evaluated.
type Matrix struct {
	Keys    []string // in definition order
	Vectors map[string][]any
	Include []map[string]any
	Exclude []map[string]any
}

// DecodeMatrix turns a matrix node into a Matrix. expand is called on every
// string value that holds an expression (and on a whole-matrix expression).
func DecodeMatrix(n *yaml.Node, expand func(string) (any, error)) (*Matrix, error) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		v, err := expand(n.Value)
		if err != nil {
			return nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("matrix expression must give an object, not %T", v)
		}
		return matrixFromValue(m, nil)
	}
	var raw any
	if err := n.Decode(&raw); err != nil {
		return nil, err
	}
	var order []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		order = append(order, n.Content[i].Value)
	}
	v, err := expandAll(raw, expand)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("matrix must be a mapping")
	}
	return matrixFromValue(m, order)
}

func matrixFromValue(m map[string]any, order []string) (*Matrix, error) {
	if order == nil {
		for k := range m {
			order = append(order, k)
		}
		sortStringsStable(order)
	}
	mx := &Matrix{Vectors: map[string][]any{}}
	for _, k := range order {
		v := m[k]
		switch k {
		case "include", "exclude":
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("matrix %s must be a list of mappings", k)
			}
			for _, e := range list {
				em, ok := e.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("matrix %s entries must be mappings", k)
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
				return nil, fmt.Errorf("matrix key %q must be a list", k)
			}
			if len(list) == 0 {
				return nil, fmt.Errorf("matrix key %q is an empty list", k)
			}
			mx.Keys = append(mx.Keys, k)
			mx.Vectors[k] = list
		}
	}
	for _, e := range mx.Exclude {
		for k := range e {
			if _, ok := mx.Vectors[k]; !ok {
				return nil, fmt.Errorf("matrix exclude key %q does not match any key of the matrix", k)
			}
		}
	}
	return mx, nil
}

// expandAll walks a decoded YAML value and evaluates expression strings.
func expandAll(v any, expand func(string) (any, error)) (any, error) {
	switch t := v.(type) {
	case string:
		if strings.Contains(t, "${{") {
			return expand(t)
		}
		return t, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			x, err := expandAll(e, expand)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			x, err := expandAll(e, expand)
			if err != nil {
				return nil, err
			}
			out[k] = x
		}
		return out, nil
	case int:
		return float64(t), nil
	}
	return v, nil
}

// Combos expands the matrix as GitHub does: the cross product of the
// vectors, minus exclude entries, then include entries merged into every
// combination whose original values they do not change, or added as new
// combinations when they fit none.
func (m *Matrix) Combos() ([]Combo, error) {
	var combos []Combo
	if len(m.Keys) > 0 {
		combos = []Combo{{Values: map[string]any{}}}
		for _, k := range m.Keys {
			var next []Combo
			for _, c := range combos {
				for _, v := range m.Vectors[k] {
					vals := make(map[string]any, len(c.Values)+1)
					for kk, vv := range c.Values {
						vals[kk] = vv
					}
					vals[k] = v
					next = append(next, Combo{Keys: append(append([]string{}, c.Keys...), k), Values: vals})
				}
			}
			combos = next
		}
	}
	kept := combos[:0]
	for _, c := range combos {
		excluded := false
		for _, e := range m.Exclude {
			if matches(c.Values, e) {
				excluded = true
				break
			}
		}
		if !excluded {
			kept = append(kept, c)
		}
	}
	combos = kept
	original := len(combos)
	for _, inc := range m.Include {
		added := false
		for i := 0; i < original; i++ {
			c := &combos[i]
			ok := true
			for k, v := range inc {
				if _, isOrig := m.Vectors[k]; isOrig && !reflect.DeepEqual(c.Values[k], v) {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			added = true
			for _, k := range sortedKeys(inc) {
				if _, has := c.Values[k]; !has {
					c.Keys = append(c.Keys, k)
				}
				c.Values[k] = inc[k]
			}
		}
		if !added {
			c := Combo{Values: map[string]any{}}
			for _, k := range sortedKeys(inc) {
				c.Keys = append(c.Keys, k)
				c.Values[k] = inc[k]
			}
			combos = append(combos, c)
		}
	}
	if len(combos) == 0 {
		return nil, fmt.Errorf("matrix has no combinations")
	}
	if len(combos) > 256 {
		return nil, fmt.Errorf("matrix has %d combinations; GitHub's limit is 256", len(combos))
	}
	return combos, nil
}

// matches reports whether every key of partial has the same value in full.
func matches(full, partial map[string]any) bool {
	for k, v := range partial {
		if !reflect.DeepEqual(full[k], v) {
			return false
		}
	}
	return true
}
