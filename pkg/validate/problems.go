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
func schemaProblems(doc *yaml.Node, prefix []string, verr *jsonschema.ValidationError) []Problem {
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
			for _, p := range k.Properties {
				at(append(slices.Clip(loc), p), true, fmt.Sprintf("unknown field %q", p))
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
			at(loc, false, fmt.Sprintf("expected %s, got %s", strings.Join(want, " or "), k.Got))
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
