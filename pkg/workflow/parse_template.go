package workflow

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// GitHub's template language, beyond ${{ }} in values: where the
// workflow schema gives a mapping contexts (env at each level, the
// matrix), a key may be an expression, computed at run time, and the key
// ${{ insert }} takes an expression that gives an object (or a written-out
// mapping) whose entries take its place. A mapping there may also be one
// expression that gives the whole object (env: ${{ fromJSON(…) }}). In a
// sequence there, an item that is exactly one expression giving an array
// is spliced into the sequence (DecodeMatrix).

// WholeExpr reports whether s is exactly one ${{ }} expression, nothing
// around it (see expr.Template.Whole). An expression that does not parse
// counts when s starts with ${{ and ends with }}: validation reports it.
func WholeExpr(s string) bool {
	t, err := expr.ParseTemplate(s)
	if err != nil {
		return strings.HasPrefix(s, "${{") && strings.HasSuffix(s, "}}")
	}
	return t.Whole()
}

var insertDirective = regexp.MustCompile(`\$\{\{\s*insert\s*\}\}`)

// IsInsert reports whether a mapping key is GitHub's ${{ insert }}
// directive.
func IsInsert(key string) bool {
	m := insertDirective.FindStringIndex(key)
	return m != nil && m[0] == 0 && m[1] == len(key)
}

// env reads an env: mapping (workflow, job, step) with the template forms:
// one expression for the whole mapping, ${{ insert }} entries (a
// written-out mapping under it is read in place) and names computed by
// expressions (KV.Key holds the expression).
func (p *parser) env(n *yaml.Node, where string) []KV {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		if !WholeExpr(n.Value) {
			p.errf(posOf(n), "syntax", "%s must be a mapping, or one ${{ }} expression that gives one, not %q", where, n.Value)
			return nil
		}
		return []KV{{Value: p.scalar(n, where), KeyPos: posOf(n), Insert: true}}
	}
	if n.Kind == yaml.ScalarNode {
		return nil // env: with no value
	}
	var out []KV
	p.mapping(n, where, map[string]func(k, v *yaml.Node){"*": func(k, v *yaml.Node) {
		insert, bad := p.insertKey(k, where)
		if bad {
			return
		}
		if !insert {
			out = append(out, KV{Key: k.Value, Value: p.scalar(v, where+"."+k.Value), KeyPos: posOf(k), KeyQuoted: quoted(k)})
			return
		}
		if v.Kind == yaml.MappingNode {
			out = append(out, p.env(v, where)...)
			return
		}
		if v.Kind == yaml.ScalarNode && WholeExpr(v.Value) {
			out = append(out, KV{Value: p.scalar(v, where), KeyPos: posOf(k), Insert: true})
			return
		}
		p.errf(posOf(v), "syntax", "%s: the value of ${{ insert }} must be a mapping, or one ${{ }} expression that gives one", where)
	}})
	return out
}

// insertKey reports whether k is the ${{ insert }} directive, and whether
// it is the directive written with text around it, which GitHub refuses
// (reported here).
func (p *parser) insertKey(k *yaml.Node, where string) (insert, bad bool) {
	if IsInsert(k.Value) {
		return true, false
	}
	if insertDirective.MatchString(k.Value) {
		p.errf(posOf(k), "syntax", "%s: the ${{ insert }} directive must be the whole key, with nothing around it", where)
		return false, true
	}
	return false, false
}

// KindPhrase names the kind of an expression value for messages: "an
// object", "an array", "a string", "a number", "a boolean" or "null".
func KindPhrase(v any) string {
	switch k := expr.KindOf(v); k {
	case "Null":
		return "null"
	case "Array", "Object":
		return "an " + strings.ToLower(k)
	default:
		return "a " + strings.ToLower(k)
	}
}

// matrixInsert checks the value of a ${{ insert }} key in a matrix: a
// written-out mapping (checked as a matrix) or one expression.
func (p *parser) matrixInsert(v *yaml.Node, where string) {
	switch {
	case v.Kind == yaml.MappingNode:
		p.checkMatrix(v, where)
	case v.Kind == yaml.ScalarNode && WholeExpr(v.Value):
	default:
		p.errf(posOf(v), "matrix", "%s: the value of ${{ insert }} must be a mapping, or one ${{ }} expression that gives one", where)
	}
}
