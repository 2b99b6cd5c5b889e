package yamllint

import (
	"github.com/birdflock/runner/pkg/pyyaml"
)

type ruleType uint8

const (
	tokenRule ruleType = iota
	commentRule
	lineRule
)

// Options is one rule's validated configuration (yamllint's rule conf
// dict): option values are bool, int, string or []any, plus "level".
type Options map[string]any

func (o Options) bool(k string) bool  { b, _ := o[k].(bool); return b }
func (o Options) str(k string) string { s, _ := o[k].(string); return s }
func (o Options) list(k string) []any { l, _ := o[k].([]any); return l }
func (o Options) int(k string) int {
	switch v := o[k].(type) {
	case int:
		return v
	case bool:
		if v {
			return 1
		}
	}
	return 0
}

// tokenArgs are the arguments yamllint passes to token rules.
type tokenArgs struct {
	token, prev, next, nextnext *pyyaml.Token
}

// rule is one yamllint rule: its id, kind, options and check function.
type rule struct {
	ID       string
	Type     ruleType
	Options  []option
	Validate func(Options) string
	// NewState returns the per-file context of a token rule (may be nil).
	NewState     func() any
	CheckToken   func(o Options, t tokenArgs, state any, buf []rune) []Problem
	CheckComment func(o Options, c *Comment) []Problem
	CheckLine    func(o Options, l *Line) []Problem
}

// allRules lists the rules in yamllint's registry order.
func allRules() []*rule {
	return []*rule{
		ruleBraces, ruleBrackets, ruleColons, ruleCommas, ruleComments,
		ruleCommentsIndentation, ruleDocumentEnd, ruleDocumentStart,
		ruleEmptyLines, ruleEmptyValues, ruleHyphens, ruleIndentation,
		ruleKeyDuplicates, ruleKeyOrdering, ruleLineLength,
		ruleNewLineAtEndOfFile, ruleNewLines, ruleOctalValues,
		ruleFloatValues, ruleQuotedStrings, ruleTrailingSpaces, ruleTruthy,
	}
}

func getRule(id string) *rule {
	for _, r := range allRules() {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func problem(line, column int, desc string) Problem {
	return Problem{Line: line, Column: column, Desc: desc}
}

// spacesAfter is yamllint's rules.common.spaces_after (min/max -1 = off).
func spacesAfter(token, next *pyyaml.Token, min, max int, minDesc, maxDesc string) *Problem {
	if next != nil && token.End.Line == next.Start.Line {
		spaces := next.Start.Pointer - token.End.Pointer
		if max != -1 && spaces > max {
			p := problem(token.Start.Line+1, next.Start.Column, maxDesc)
			return &p
		} else if min != -1 && spaces < min {
			p := problem(token.Start.Line+1, next.Start.Column+1, minDesc)
			return &p
		}
	}
	return nil
}

// spacesBefore is yamllint's rules.common.spaces_before.
func spacesBefore(token, prev *pyyaml.Token, buf []rune, min, max int, minDesc, maxDesc string) *Problem {
	if prev != nil && prev.End.Line == token.Start.Line &&
		(prev.End.Pointer == 0 || buf[prev.End.Pointer-1] != '\n') {
		spaces := token.Start.Pointer - prev.End.Pointer
		if max != -1 && spaces > max {
			p := problem(token.Start.Line+1, token.Start.Column, maxDesc)
			return &p
		} else if min != -1 && spaces < min {
			p := problem(token.Start.Line+1, token.Start.Column+1, minDesc)
			return &p
		}
	}
	return nil
}

func appendP(ps []Problem, p *Problem) []Problem {
	if p != nil {
		ps = append(ps, *p)
	}
	return ps
}

// lineIndent is rules.common.get_line_indent.
func lineIndent(token *pyyaml.Token, buf []rune) int {
	start := 0
	for i := token.Start.Pointer - 1; i >= 0; i-- {
		if buf[i] == '\n' {
			start = i + 1
			break
		}
	}
	content := start
	for content < len(buf) && buf[content] == ' ' {
		content++
	}
	return content - start
}

// isASCIISpace is Python's string.whitespace.
func isASCIISpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

// realEndLine is rules.common.get_real_end_line.
func realEndLine(token *pyyaml.Token, buf []rune) int {
	end := token.End.Line + 1
	if token.Kind != pyyaml.Scalar {
		return end
	}
	pos := token.End.Pointer - 1
	for pos >= token.Start.Pointer-1 && pos >= 0 && isASCIISpace(buf[pos]) {
		if buf[pos] == '\n' {
			end--
		}
		pos--
	}
	return end
}

// isExplicitKey is rules.common.is_explicit_key.
func isExplicitKey(token *pyyaml.Token, buf []rune) bool {
	return token.Start.Pointer < token.End.Pointer && buf[token.Start.Pointer] == '?'
}
