package workflow

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// ruleDupKeys reports keys that differ only in case where GitHub compares
// them ignoring case (env, outputs, inputs, secrets, matrix keys): GitHub
// refuses the workflow. Exact duplicates are the parser's.
func ruleDupKeys() *rule {
	kvs := func(v *validator, list []KV, where string) {
		seen := map[string]KV{}
		for _, kv := range list {
			if kv.Insert || strings.Contains(kv.Key, "${{") {
				continue // computed at run time, and checked there
			}
			l := strings.ToLower(kv.Key)
			if d, dup := seen[l]; dup && d.Key != kv.Key {
				v.errf(kv.KeyPos, "duplicate-key", "%s: key %q is the same as %q at line %d: GitHub compares these keys ignoring case", where, kv.Key, d.Key, d.KeyPos.Line)
				continue
			}
			seen[l] = kv
		}
	}
	nodeKeys := func(v *validator, n *yaml.Node, where string) {
		n = resolve(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			l := strings.ToLower(k.Value)
			if d, dup := seen[l]; dup && d.Value != k.Value {
				v.errf(posOf(k), "duplicate-key", "%s: key %q is the same as %q at line %d: GitHub compares these keys ignoring case", where, k.Value, d.Value, d.Line)
				continue
			}
			seen[l] = k
		}
	}
	return &rule{
		workflow: func(v *validator, w *Workflow) {
			kvs(v, w.Env, "env")
			if d := eventNode(w.On, "workflow_dispatch"); d != nil {
				nodeKeys(v, mappingValue(d, "inputs"), "on.workflow_dispatch.inputs")
			}
			if c := eventNode(w.On, "workflow_call"); c != nil {
				for _, s := range []string{"inputs", "outputs", "secrets"} {
					nodeKeys(v, mappingValue(c, s), "on.workflow_call."+s)
				}
			}
		},
		job: func(v *validator, j *Job) {
			kvs(v, j.Env, "job "+j.ID+".env")
			kvs(v, j.Outputs, "job "+j.ID+".outputs")
			if j.Strategy != nil && j.Strategy.Matrix != nil {
				nodeKeys(v, j.Strategy.Matrix, "job "+j.ID+".strategy.matrix")
			}
		},
		step: func(v *validator, j *Job, s *Step) {
			kvs(v, s.Env, v.stepWhere(j, s)+".env")
			kvs(v, s.With, v.stepWhere(j, s)+".with")
		},
	}
}
