package yamllint

import "github.com/birdflock/runner/pkg/pyyaml"

var ruleBraces = &rule{
	ID:   "braces",
	Type: tokenRule,
	Options: []option{
		{name: "forbid", kind: optTuple, choices: []any{pyBool, "non-empty"}, repr: "(<class 'bool'>, 'non-empty')", dflt: false},
		intOpt("min-spaces-inside", 0),
		intOpt("max-spaces-inside", 0),
		intOpt("min-spaces-inside-empty", -1),
		intOpt("max-spaces-inside-empty", -1),
	},
	CheckToken: func(o Options, t tokenArgs, _ any, buf []rune) []Problem {
		return checkFlowSpaces(o, t, buf, pyyaml.FlowMappingStart, pyyaml.FlowMappingEnd, "flow mapping", "braces")
	},
}

// checkFlowSpaces is the shared logic of the braces and brackets rules.
func checkFlowSpaces(o Options, t tokenArgs, buf []rune, open, close pyyaml.TokenKind, what, name string) []Problem {
	tok, next := t.token, t.next
	if tok.Kind != open && tok.Kind != close {
		return nil
	}
	forbid := o["forbid"]
	var ps []Problem
	switch {
	case forbid == true && tok.Kind == open:
		ps = append(ps, problem(tok.Start.Line+1, tok.End.Column+1, "forbidden "+what))
	case forbid == "non-empty" && tok.Kind == open && (next == nil || next.Kind != close):
		ps = append(ps, problem(tok.Start.Line+1, tok.End.Column+1, "forbidden "+what))
	case tok.Kind == open && next != nil && next.Kind == close:
		min, max := o.int("min-spaces-inside-empty"), o.int("max-spaces-inside-empty")
		if min == -1 {
			min = o.int("min-spaces-inside")
		}
		if max == -1 {
			max = o.int("max-spaces-inside")
		}
		ps = appendP(ps, spacesAfter(tok, next, min, max,
			"too few spaces inside empty "+name, "too many spaces inside empty "+name))
	case tok.Kind == open:
		ps = appendP(ps, spacesAfter(tok, next, o.int("min-spaces-inside"), o.int("max-spaces-inside"),
			"too few spaces inside "+name, "too many spaces inside "+name))
	case tok.Kind == close && (t.prev == nil || t.prev.Kind != open):
		ps = appendP(ps, spacesBefore(tok, t.prev, buf, o.int("min-spaces-inside"), o.int("max-spaces-inside"),
			"too few spaces inside "+name, "too many spaces inside "+name))
	}
	return ps
}
