package validate

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits that keep hostile YAML (alias bombs, deep nesting) cheap to reject.
const (
	// maxDepth bounds the nesting of a converted document; yaml.v3 itself
	// stops at 10000, aliases can stack deeper.
	maxDepth = 10000
	// aliasBudget is how many values alias expansion may add to a document
	// beyond ten times its own size.
	aliasBudget = 100000
)

// position is a 1-based line and column.
type position struct{ Line, Column int }

// yamlProblem is a YAML-level finding with its place.
type yamlProblem struct {
	pos  position
	path string
	msg  string
}

// limitError is a document rejected as hostile, with where it was noticed.
type limitError struct {
	pos position
	msg string
}

func (e *limitError) Error() string { return e.msg }

// converter turns a yaml.v3 node tree into the JSON-like values the schema
// validator takes, as Kubernetes' own YAML decoding would (YAML 1.1 booleans,
// merge keys), and records what JSON cannot represent.
type converter struct {
	problems []yamlProblem
	left     int // remaining values that alias expansion may produce
	err      *limitError
}

// toValue converts a document node. A non-nil error means the document is
// hostile (aliases or nesting beyond the limits) and was not converted.
func toValue(doc *yaml.Node) (any, []yamlProblem, *limitError) {
	c := &converter{}
	n := c.check(doc, "", 0)
	c.left = aliasBudget + 10*n
	v := c.value(doc, 0, false)
	if c.err != nil {
		return nil, c.problems, c.err
	}
	return v, c.problems, nil
}

// check walks the tree once without following aliases: it counts nodes and
// reports duplicate and non-scalar keys, once per place in the file.
func (c *converter) check(n *yaml.Node, path string, depth int) int {
	if n == nil || depth > maxDepth {
		return 0
	}
	count := 1
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, ch := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = path + "/" + strconv.Itoa(i)
			}
			count += c.check(ch, p, depth+1)
		}
	case yaml.MappingNode:
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.problems = append(c.problems, yamlProblem{pos: pos(k), path: path, msg: "mapping key is not a scalar"})
				continue
			}
			if isMerge(k) {
				count += c.check(v, path, depth+1)
				continue
			}
			p := path + "/" + escapePointer(k.Value)
			if prev, dup := seen[k.Value]; dup {
				c.problems = append(c.problems, yamlProblem{pos: pos(k), path: p,
					msg: fmt.Sprintf("duplicate key %q (first defined at line %d)", k.Value, prev.Line)})
			} else {
				seen[k.Value] = k
			}
			count += 1 + c.check(v, p, depth+1)
		}
	}
	return count
}

func (c *converter) value(n *yaml.Node, depth int, aliased bool) any {
	if c.err != nil {
		return nil
	}
	if depth > maxDepth {
		c.err = &limitError{pos(n), fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
		return nil
	}
	if aliased {
		if c.left--; c.left < 0 {
			c.err = &limitError{pos(n), "aliases expand to too many values (alias bomb?)"}
			return nil
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.value(n.Content[0], depth, aliased)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil
		}
		return c.value(n.Alias, depth+1, true)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, ch := range n.Content {
			out = append(out, c.value(ch, depth+1, aliased))
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		c.mapping(n, out, depth, aliased)
		return out
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil
}

// mapping fills out from a mapping node; explicit keys win over merged ones
// (<<), and the last of duplicate keys wins, as in YAML loaders (the
// duplicates are reported, and the rest of the document still checked).
func (c *converter) mapping(n *yaml.Node, out map[string]any, depth int, aliased bool) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if isMerge(k) {
			merges = append(merges, v)
			continue
		}
		out[k.Value] = c.value(v, depth+1, aliased)
	}
	for _, m := range merges {
		for _, src := range mergeSources(m) {
			v, _ := c.value(src, depth+1, aliased).(map[string]any)
			for k, val := range v {
				if _, set := out[k]; !set {
					out[k] = val
				}
			}
		}
	}
}

func isMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.Tag == "!!merge" }

// mergeSources returns the mappings a merge key refers to (one, or a list).
func mergeSources(v *yaml.Node) []*yaml.Node {
	if v.Kind == yaml.SequenceNode {
		return v.Content
	}
	return []*yaml.Node{v}
}

// yaml11Bool reads the plain scalars that Kubernetes' YAML decoder
// (YAML 1.1, like kubectl) takes as booleans while yaml.v3 keeps them strings.
func yaml11Bool(s string) (value, ok bool) {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
		if b, ok := new(big.Int).SetString(strings.ReplaceAll(n.Value, "_", ""), 0); ok {
			return json.Number(b.String())
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil {
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return n.Value // JSON has no such number; keep it visible as text
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case "!!str":
		if n.Style == 0 {
			if b, ok := yaml11Bool(n.Value); ok {
				return b
			}
		}
	}
	return n.Value
}

func pos(n *yaml.Node) position { return position{n.Line, n.Column} }

// escapePointer escapes one JSON-pointer token (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// locate finds the node at a JSON-pointer path (as tokens). With key set, a
// mapping member resolves to its key node, which is where an unknown field
// is best shown. It returns the deepest node it reached.
func locate(doc *yaml.Node, tokens []string, key bool) *yaml.Node {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	var keyNode *yaml.Node
	for _, tok := range tokens {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		keyNode = nil
		switch n.Kind {
		case yaml.MappingNode:
			k, v := member(n, tok, 0)
			if v == nil {
				return n
			}
			keyNode, n = k, v
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n
			}
			n = n.Content[i]
		default:
			return n
		}
	}
	if key && keyNode != nil {
		return keyNode
	}
	return n
}

// member finds key name in a mapping, explicit keys first, then merged ones.
func member(m *yaml.Node, name string, depth int) (k, v *yaml.Node) {
	if depth > 100 {
		return nil, nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn := m.Content[i]
		if isMerge(kn) {
			merges = append(merges, m.Content[i+1])
		} else if kn.Kind == yaml.ScalarNode && kn.Value == name {
			k, v = kn, m.Content[i+1] // the last of duplicates is the one validated
		}
	}
	if v != nil {
		return k, v
	}
	for _, mv := range merges {
		for _, src := range mergeSources(mv) {
			for src.Kind == yaml.AliasNode && src.Alias != nil {
				src = src.Alias
			}
			if src.Kind == yaml.MappingNode {
				if k, v := member(src, name, depth+1); v != nil {
					return k, v
				}
			}
		}
	}
	return nil, nil
}
