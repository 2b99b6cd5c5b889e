package workflow

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// ruleRefMatrix checks matrix.<key>: the job's matrix defines the key,
// as a vector or in an include entry. A matrix built by an expression is
// known only at run time and is not checked.
func ruleRefMatrix() *rule {
	var keys []string // of the current job, computed once per job
	var scalar map[string]bool
	static := true
	return &rule{job: func(_ *validator, j *Job) {
		keys, static, scalar = nil, true, nil
		if s := j.Strategy; s != nil && s.Matrix != nil {
			keys, static = matrixKeys(s.Matrix)
			scalar = matrixScalarKeys(s.Matrix)
		}
	}, expr: func(v *validator, e *exprNode) {
		if e.job == nil || !static || v.action != nil { // an action's matrix is its caller's
			return
		}
		e.accesses(func(p expr.Path, pos Pos) {
			if p.Segments[0] != "matrix" || len(p.Segments) < 2 || p.Segments[1] == "*" {
				return
			}
			for _, k := range keys {
				if !strings.EqualFold(k, p.Segments[1]) {
					continue
				}
				if len(p.Segments) > 2 && p.Segments[2] != "*" && scalar[strings.ToLower(k)] {
					v.errf(pos, "matrix-ref", "%s: every value of matrix.%s is a string, number or boolean: it has no property %q (the access is always null)",
						e.where, k, p.Segments[2])
				}
				return
			}
			if len(keys) == 0 {
				v.errf(pos, "matrix-ref", "%s: job %q has no matrix, so matrix.%s is always empty", e.where, e.job.ID, p.Segments[1])
				return
			}
			v.errf(pos, "matrix-ref", "%s: the matrix of job %q has no key %q; its keys: %s%s",
				e.where, e.job.ID, p.Segments[1], strings.Join(keys, ", "), didYouMean(p.Segments[1], keys))
		})
	}}
}

// matrixScalarKeys are the keys (lower-cased) whose every value, in the
// vector and in include entries, is a written-out scalar.
func matrixScalarKeys(n *yaml.Node) map[string]bool {
	n = resolve(n)
	out := map[string]bool{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	scalar := func(c *yaml.Node) bool {
		c = resolve(c)
		return c.Kind == yaml.ScalarNode && !strings.Contains(c.Value, "${{")
	}
	notScalar := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := strings.ToLower(n.Content[i].Value), resolve(n.Content[i+1])
		switch k {
		case "exclude":
		case "include":
			if val.Kind != yaml.SequenceNode {
				return map[string]bool{}
			}
			for _, e := range val.Content {
				e = resolve(e)
				if e.Kind != yaml.MappingNode {
					return map[string]bool{}
				}
				for j := 0; j+1 < len(e.Content); j += 2 {
					ik := strings.ToLower(e.Content[j].Value)
					if scalar(e.Content[j+1]) {
						if !notScalar[ik] {
							out[ik] = true
						}
					} else {
						notScalar[ik], out[ik] = true, false
					}
				}
			}
		default:
			all := val.Kind == yaml.SequenceNode
			if all {
				for _, c := range val.Content {
					all = all && scalar(c)
				}
			}
			if all && !notScalar[k] {
				out[k] = true
			} else {
				notScalar[k], out[k] = true, false
			}
		}
	}
	return out
}
