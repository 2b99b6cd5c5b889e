package workflow

import (
	"strings"

	"github.com/birdflock/runner/pkg/workflow/expr"
	"gopkg.in/yaml.v3"
)

// accesses calls f for every property access (context and literal
// properties, lower-cased) of an expression value, with its position.
// Accesses to a context not available at the value are left out:
// ruleContexts reports them.
func (e *exprNode) accesses(f func(p expr.Path, pos Pos)) {
	avail, restricted := availabilityTable[e.key]
	for i := range e.nodes {
		for _, p := range e.pathsOf(i) {
			if restricted && !contains(avail.contexts, p.Segments[0]) {
				continue
			}
			f(p, offsetPos(e.val, p.Offset))
		}
	}
}

// matrixKeys lists the keys a matrix gives its legs: the vectors' and
// those of include entries. Static is false when a part is an expression,
// so that the keys are known only at run time.
func matrixKeys(n *yaml.Node) (keys []string, static bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, false
	}
	static = true
	seen := map[string]bool{}
	add := func(k string) {
		if strings.Contains(k, "${{") {
			static = false // a computed key, or ${{ insert }}
		}
		if !seen[strings.ToLower(k)] {
			seen[strings.ToLower(k)] = true
			keys = append(keys, k)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, resolve(n.Content[i+1])
		switch k {
		case "exclude":
		case "include":
			if v.Kind != yaml.SequenceNode {
				return nil, false
			}
			for _, c := range v.Content {
				c = resolve(c)
				if c.Kind != yaml.MappingNode {
					return nil, false
				}
				for j := 0; j+1 < len(c.Content); j += 2 {
					add(c.Content[j].Value)
				}
			}
		default:
			add(k)
		}
	}
	return keys, static
}
