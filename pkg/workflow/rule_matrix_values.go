package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// valueKey identifies a written-out matrix value as the run compares
// them (DecodeMatrix's values: 1.23 and 1.230 are equal, 1.23 and '1.23'
// are not); values with expressions are left out.
func valueKey(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	val, err := nodeValue(n, func(string) (any, error) { return nil, errDynamic })
	if err != nil {
		return "", false
	}
	return expr.ToJSON(val), true
}

// ruleMatrixValues checks a written-out matrix at its values: a scalar
// listed twice in a vector (duplicate legs) and an exclude value that no
// leg has, so that the exclude removes nothing (ruleMatrix reports an
// exclude key the matrix does not have).
func ruleMatrixValues() *rule {
	return &rule{job: func(v *validator, j *Job) {
		if j.Strategy == nil || j.Strategy.Matrix == nil {
			return
		}
		m := resolve(j.Strategy.Matrix)
		if m.Kind != yaml.MappingNode {
			return
		}
		vectors := map[string]map[string]bool{} // key → its scalar values; nil when not all written out
		decoded := map[string][]any{}           // key → its values, when written out without expressions
		var exclude *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, val := m.Content[i].Value, resolve(m.Content[i+1])
			switch k {
			case "include":
				continue
			case "exclude":
				exclude = val
				continue
			}
			if val.Kind != yaml.SequenceNode {
				continue
			}
			seen := map[string]bool{}
			var dups []string // in order of their second appearance
			count := map[string]int{}
			second := map[string]*yaml.Node{}
			all := true
			for _, c := range val.Content {
				c = resolve(c)
				key, ok := valueKey(c)
				if !ok {
					all = false
					continue
				}
				if count[key]++; count[key] == 2 {
					dups = append(dups, key)
					second[key] = c
				}
				seen[key] = true
			}
			for _, key := range dups {
				times := fmt.Sprintf("%d times", count[key])
				if count[key] == 2 {
					times = "twice"
				}
				v.errf(posOf(second[key]), "matrix", "job %q: matrix.%s lists %s %s: its legs would run %s", j.ID, k, key, times, times)
			}
			if all {
				vectors[k] = seen
			}
			if sm := v.matrixOf(j); sm.err == nil {
				decoded[k] = sm.m.Vectors[k]
			}
		}
		if exclude == nil || exclude.Kind != yaml.SequenceNode {
			return
		}
		for _, e := range exclude.Content {
			e = resolve(e)
			if e.Kind != yaml.MappingNode {
				continue
			}
			for i := 0; i+1 < len(e.Content); i += 2 {
				k, val := e.Content[i].Value, resolve(e.Content[i+1])
				if val.Kind == yaml.MappingNode || val.Kind == yaml.SequenceNode {
					excludeObject(v, j, k, val, decoded[k])
					continue
				}
				values, ok := vectors[k]
				key, lit := valueKey(val)
				if !ok || !lit || values[key] {
					continue
				}
				v.errf(posOf(val), "matrix", "job %q: exclude %s: %s matches no value of matrix.%s, so the entry excludes nothing", j.ID, k, key, k)
			}
		}
	}}
}

// excludeObject reports an exclude value written as a mapping or a
// sequence that matches none of the vector's values (matchesExclude: an
// object matches the values that hold its keys with matching values).
func excludeObject(v *validator, j *Job, k string, val *yaml.Node, values []any) {
	if values == nil {
		return // not a written-out vector, or not a key of the matrix
	}
	ex, err := staticValue(val)
	if err != nil {
		return
	}
	for _, x := range values {
		if matchesExclude(x, ex) {
			return
		}
	}
	what := "an object matches the values that hold each of its keys with a matching value"
	if val.Kind == yaml.SequenceNode {
		what = "an array matches the arrays of its length whose items match"
	}
	v.errf(posOf(val), "matrix", "job %q: exclude %s: %s matches no value of matrix.%s (%s), so the entry excludes nothing", j.ID, k, compactJSON(ex), k, what)
}

// compactJSON prints a value as one line of JSON, for messages.
func compactJSON(v any) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(expr.ToJSON(v))); err != nil {
		return expr.ToJSON(v)
	}
	return b.String()
}

// staticValue is the value of a node written out without expressions
// (errDynamic otherwise). Decoding it once first makes yaml.v3 refuse an
// alias bomb before nodeValue expands the aliases.
func staticValue(n *yaml.Node) (any, error) {
	var raw any
	if err := n.Decode(&raw); err != nil {
		return nil, err
	}
	return nodeValue(n, func(string) (any, error) { return nil, errDynamic })
}
