package run

import (
	"fmt"
	"strings"

	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// envEntries evaluates one env mapping (the workflow's, a job's or a
// step's) with GitHub's template forms, in order: a name computed by an
// expression, and the entries of a ${{ insert }} or of a whole-mapping
// expression (workflow.KV.Insert), which must give an object of strings,
// numbers, booleans or nulls. As in GitHub's template evaluator, a name
// defined twice in the mapping (ignoring case) is an error, and so is an
// empty computed name.
func (r *runState) envEntries(kvs []workflow.KV, ctxs map[string]any) ([][2]string, error) {
	out := make([][2]string, 0, len(kvs))
	seen := make(map[string]bool, len(kvs))
	add := func(k, v string) error {
		l := strings.ToLower(k)
		if seen[l] {
			return fmt.Errorf("env: %q is already defined (GitHub compares env names ignoring case)", k)
		}
		seen[l] = true
		out = append(out, [2]string{k, v})
		return nil
	}
	for _, kv := range kvs {
		if kv.Insert {
			v, err := r.evalValue(kv.Value, ctxs, nil)
			if err != nil {
				return nil, err
			}
			obj, ok := expr.Normalize(v).(*expr.Object)
			if !ok {
				return nil, r.place(ctxs, kv.Value, fmt.Errorf("env: the expression must give an object (a mapping), not %s", workflow.KindPhrase(v)))
			}
			vals := obj.Values()
			for i, k := range obj.Keys() {
				s, err := envString(k, vals[i])
				if err == nil {
					err = add(k, s)
				}
				if err != nil {
					return nil, r.place(ctxs, kv.Value, err)
				}
			}
			continue
		}
		name := kv.Key
		if strings.Contains(name, "${{") {
			key := workflow.Value{Raw: kv.Key, Pos: kv.KeyPos, Set: true, Quoted: kv.KeyQuoted}
			k, err := r.evalValue(key, ctxs, nil)
			if err == nil {
				name, err = envString("", k)
			}
			if err == nil && name == "" {
				err = fmt.Errorf("env: the name computed by %s is empty", kv.Key)
			}
			if err != nil {
				return nil, r.place(ctxs, key, err)
			}
		}
		v, err := r.evalString(kv.Value, ctxs, nil)
		if err != nil {
			return nil, err
		}
		if err := add(name, v); err != nil {
			return nil, r.place(ctxs, workflow.Value{Pos: kv.KeyPos}, err)
		}
	}
	return out, nil
}

// envString converts an evaluated env value (or, with name "", a computed
// name) to its text: a mapping or sequence cannot be one.
func envString(name string, v any) (string, error) {
	switch expr.Normalize(v).(type) {
	case *expr.Object, []any:
		if name == "" {
			return "", fmt.Errorf("env: a name must be a string, number or boolean, not %s", workflow.KindPhrase(v))
		}
		return "", fmt.Errorf("env: the value of %s must be a string, number or boolean, not %s", name, workflow.KindPhrase(v))
	}
	return expr.String(v), nil
}
