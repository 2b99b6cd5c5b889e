package workflow

import (
	"strings"
)

// ruleEnvNames checks the names of env: entries (workflow, job, step): a
// name with =, a space or a NUL cannot be an environment variable, so
// GitHub refuses it.
func ruleEnvNames() *rule {
	check := func(v *validator, kvs []KV, where string) {
		for _, kv := range kvs {
			if kv.Insert || strings.Contains(kv.Key, "${{") {
				continue // names computed by expressions: known at run time
			}
			if strings.ContainsAny(kv.Key, "= \t\n\x00") || kv.Key == "" {
				v.errf(kv.KeyPos, "env-var", "%s: %q is not a valid environment variable name: it cannot be empty or hold =, spaces or NUL", where, kv.Key)
			}
		}
	}
	return &rule{
		workflow: func(v *validator, w *Workflow) { check(v, w.Env, "env") },
		job:      func(v *validator, j *Job) { check(v, j.Env, "job "+j.ID+".env") },
		step: func(v *validator, j *Job, s *Step) {
			check(v, s.Env, v.stepWhere(j, s)+".env")
		},
	}
}
