package validate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// schemaProblems flattens a validation error tree into one Problem per
// failed check, placed on the YAML node it is about.
// Instance locations are relative to the object at prefix in doc.
func schemaProblems(set *schemaSet, doc *yaml.Node, prefix []string, verr *jsonschema.ValidationError) []Problem {
	var leaves []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(verr)
	printer := message.NewPrinter(language.English)
	var out []Problem
	at := func(tokens []string, key bool, msg string) {
		n := locate(doc, tokens, key)
		out = append(out, Problem{Path: pointer(tokens), Line: n.Line, Column: n.Column, Message: msg})
	}
	for _, e := range leaves {
		loc := append(slices.Clip(prefix), e.InstanceLocation...)
		switch k := e.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			declared := set.propertiesAt(e.SchemaURL)
			for _, p := range k.Properties {
				msg := fmt.Sprintf("unknown field %q", p)
				if near := closest(p, declared); near != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", near)
				}
				at(append(slices.Clip(loc), p), true, msg)
			}
		case *kind.Required:
			for _, m := range k.Missing {
				at(loc, true, fmt.Sprintf("missing required field %q", m))
				out[len(out)-1].Path = pointer(append(slices.Clip(loc), m))
			}
		case *kind.Type:
			want := slices.DeleteFunc(slices.Clone(k.Want), func(s string) bool { return s == "null" })
			if len(want) == 0 {
				want = k.Want
			}
			msg := fmt.Sprintf("expected %s, got %s", strings.Join(want, " or "), k.Got)
			if n := locate(doc, loc, false); slices.Contains(want, "string") && n.Kind == yaml.ScalarNode && n.Style == 0 {
				// The usual slip: an unquoted 8080, 1.10 or yes where text is
				// wanted. The value itself is not shown: it may be a secret.
				switch k.Got {
				case "boolean":
					msg += " (unquoted yes/no/on/off/true/false are booleans: quote the value)"
				case "number", "integer":
					msg += " (quote the value to make it a string)"
				}
			}
			at(loc, false, msg)
		default:
			at(loc, false, e.ErrorKind.LocalizedString(printer))
		}
	}
	return out
}

// pointer renders tokens as a JSON pointer ("" for the whole document).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapePointer(t))
	}
	return b.String()
}

// closest returns the declared field nearest to an unknown one (same letters
// in another case, or at most two edits away), or "".
func closest(name string, declared []string) string {
	best, bestD := "", 3
	for _, d := range declared {
		if strings.EqualFold(d, name) {
			return d
		}
		if dist := editDistance(name, d, bestD); dist < bestD && dist < len(name)/2+1 {
			best, bestD = d, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit when it is
// at least limit.
func editDistance(a, b string, limit int) int {
	if abs(len(a)-len(b)) >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
