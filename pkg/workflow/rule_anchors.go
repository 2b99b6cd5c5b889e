package workflow

import "gopkg.in/yaml.v3"

// ruleAnchors warns about a YAML anchor (&name) that no alias (*name)
// uses: a leftover, or an alias that names another anchor by mistake.
// Aliases are not followed, so the walk is linear in the file.
func ruleAnchors() *rule {
	return &rule{workflow: func(v *validator, w *Workflow) {
		if w.root == nil {
			return
		}
		var anchors []*yaml.Node
		used := map[*yaml.Node]bool{}
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			if n.Kind == yaml.AliasNode {
				used[n.Alias] = true
				return
			}
			if n.Anchor != "" {
				anchors = append(anchors, n)
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(w.root)
		for _, a := range anchors {
			if !used[a] {
				v.warnf(posOf(a), "anchor", "anchor %q is defined but no alias (*%s) uses it", a.Anchor, a.Anchor)
			}
		}
	}}
}
