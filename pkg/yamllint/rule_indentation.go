package yamllint

import (
	"fmt"

	"github.com/birdflock/runner/pkg/pyyaml"
)

var ruleIndentation = &rule{
	ID:   "indentation",
	Type: tokenRule,
	Options: []option{
		{name: "spaces", kind: optTuple, choices: []any{pyInt, "consistent"},
			repr: "(<class 'int'>, 'consistent')", dflt: "consistent"},
		{name: "indent-sequences", kind: optTuple, choices: []any{pyBool, "whatever", "consistent"},
			repr: "(<class 'bool'>, 'whatever', 'consistent')", dflt: true},
		boolOpt("check-multi-line-strings", false),
	},
	NewState:   func() any { return &indentState{} },
	CheckToken: checkIndentation,
}

type parentType uint8

const (
	pRoot parentType = iota
	pBMap
	pFMap
	pBSeq
	pFSeq
	pBEnt
	pKey
	pVal
)

type indentParent struct {
	typ              parentType
	indent           int
	lineIndent       int
	explicitKey      bool
	implicitBlockSeq bool
}

type indentState struct {
	started         bool
	stack           []indentParent
	curLine         int
	curLineIndent   int
	spaces          int
	spacesKnown     bool
	indentSequences any // true, false, "whatever" or "consistent"
}

// assertion mirrors Python's AssertionError inside the rule.
type assertion struct{}

func assert(ok bool) {
	if !ok {
		panic(assertion{})
	}
}

// top returns the i-th parent from the top; valid until the next push.
func (s *indentState) top(i int) *indentParent {
	if len(s.stack) < i {
		panic(assertion{})
	}
	return &s.stack[len(s.stack)-i]
}

func (s *indentState) push(p indentParent) { s.stack = append(s.stack, p) }
func (s *indentState) pop()                { s.stack = s.stack[:len(s.stack)-1] }

func checkIndentation(o Options, t tokenArgs, state any, buf []rune) (ps []Problem) {
	s := state.(*indentState)
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(assertion); !ok {
				panic(r)
			}
			ps = append(ps, problem(t.token.Start.Line+1, t.token.Start.Column+1,
				"cannot infer indentation: unexpected token"))
		}
	}()
	indentationCheck(o, t, s, buf, &ps)
	return ps
}

func (s *indentState) detect(base int, next *pyyaml.Token) int {
	if !s.spacesKnown {
		s.spaces = next.Start.Column - base
		s.spacesKnown = true
	}
	return base + s.spaces
}

func isKind(t *pyyaml.Token, kinds ...pyyaml.TokenKind) bool {
	if t == nil {
		return false
	}
	for _, k := range kinds {
		if t.Kind == k {
			return true
		}
	}
	return false
}

func indentationCheck(o Options, t tokenArgs, s *indentState, buf []rune, ps *[]Problem) {
	token, prev, next, nextnext := t.token, t.prev, t.next, t.nextnext
	if !s.started {
		s.started = true
		s.stack = []indentParent{{typ: pRoot}}
		s.curLine = -1
		if sp, ok := o["spaces"].(int); ok {
			s.spaces, s.spacesKnown = sp, true
		}
		s.indentSequences = o["indent-sequences"]
	}

	// Step 1: lint
	isVisible := !isKind(token, pyyaml.StreamStart, pyyaml.StreamEnd, pyyaml.BlockEnd) &&
		!(token.Kind == pyyaml.Scalar && token.Value == "")
	firstInLine := isVisible && token.Start.Line+1 > s.curLine
	foundIndentation := 0
	if firstInLine {
		foundIndentation = token.Start.Column
		expected := s.top(1).indent
		if isKind(token, pyyaml.FlowMappingEnd, pyyaml.FlowSequenceEnd) {
			expected = s.top(1).lineIndent
		} else if s.top(1).typ == pKey && s.top(1).explicitKey && token.Kind != pyyaml.Value {
			expected = s.detect(expected, token)
		}
		if foundIndentation != expected {
			var msg string
			if expected < 0 {
				msg = fmt.Sprintf("wrong indentation: expected at least %d", foundIndentation+1)
			} else {
				msg = fmt.Sprintf("wrong indentation: expected %d but found %d", expected, foundIndentation)
			}
			*ps = append(*ps, problem(token.Start.Line+1, foundIndentation+1, msg))
		}
	}
	if token.Kind == pyyaml.Scalar && o.bool("check-multi-line-strings") {
		checkScalarIndentation(token, s, buf, ps)
	}

	// Step 2.a
	if isVisible {
		s.curLine = realEndLine(token, buf)
		if firstInLine {
			s.curLineIndent = foundIndentation
		}
	}

	// Step 2.b: update state
	switch {
	case token.Kind == pyyaml.BlockMappingStart:
		assert(isKind(next, pyyaml.Key))
		assert(next.Start.Line == token.Start.Line)
		s.push(indentParent{typ: pBMap, indent: token.Start.Column})
	case token.Kind == pyyaml.FlowMappingStart:
		var indent int
		if next.Start.Line == token.Start.Line {
			indent = next.Start.Column
		} else {
			indent = s.detect(s.curLineIndent, next)
		}
		s.push(indentParent{typ: pFMap, indent: indent, lineIndent: s.curLineIndent})
	case token.Kind == pyyaml.BlockSequenceStart:
		assert(isKind(next, pyyaml.BlockEntry))
		assert(next.Start.Line == token.Start.Line)
		s.push(indentParent{typ: pBSeq, indent: token.Start.Column})
	case token.Kind == pyyaml.BlockEntry && !isKind(next, pyyaml.BlockEntry, pyyaml.BlockEnd):
		// PyYAML issues no BlockSequenceStart for a non-indented sequence
		if s.top(1).typ != pBSeq {
			s.push(indentParent{typ: pBSeq, indent: token.Start.Column, implicitBlockSeq: true})
		}
		var indent int
		switch {
		case next.Start.Line == token.End.Line:
			indent = next.Start.Column
		case next.Start.Column == token.Start.Column:
			indent = next.Start.Column
		default:
			indent = s.detect(token.Start.Column, next)
		}
		s.push(indentParent{typ: pBEnt, indent: indent})
	case token.Kind == pyyaml.FlowSequenceStart:
		var indent int
		if next.Start.Line == token.Start.Line {
			indent = next.Start.Column
		} else {
			indent = s.detect(s.curLineIndent, next)
		}
		s.push(indentParent{typ: pFSeq, indent: indent, lineIndent: s.curLineIndent})
	case token.Kind == pyyaml.Key:
		indent := s.top(1).indent
		s.push(indentParent{typ: pKey, indent: indent, explicitKey: isExplicitKey(token, buf)})
	case token.Kind == pyyaml.Value:
		assert(s.top(1).typ == pKey)
		// key: &anchor / key: !!tag, with the value on the next line
		if isKind(next, pyyaml.Anchor, pyyaml.Tag) {
			if next.Start.Line == prev.Start.Line && nextnext != nil && next.Start.Line < nextnext.Start.Line {
				next = nextnext
			}
		}
		if !isKind(next, pyyaml.BlockEnd, pyyaml.FlowMappingEnd, pyyaml.FlowSequenceEnd, pyyaml.Key) {
			var indent int
			top := s.top(1)
			switch {
			case top.explicitKey:
				indent = s.detect(top.indent, next)
			case next.Start.Line == prev.Start.Line:
				indent = next.Start.Column
			case isKind(next, pyyaml.BlockSequenceStart, pyyaml.BlockEntry):
				switch s.indentSequences {
				case false:
					indent = top.indent
				case true:
					if !s.spacesKnown && next.Start.Column-top.indent == 0 {
						indent = -1 // unknown yet: `spaces` is still to be detected
					} else {
						indent = s.detect(top.indent, next)
					}
				default: // whatever or consistent
					if next.Start.Column == top.indent {
						if s.indentSequences == "consistent" {
							s.indentSequences = false
						}
						indent = top.indent
					} else {
						if s.indentSequences == "consistent" {
							s.indentSequences = true
						}
						indent = s.detect(top.indent, next)
					}
				}
			default:
				indent = s.detect(top.indent, next)
			}
			s.push(indentParent{typ: pVal, indent: indent})
		}
	}

	consumed := false
	for {
		top := s.top(1)
		switch {
		case top.typ == pFSeq && token.Kind == pyyaml.FlowSequenceEnd && !consumed:
			s.pop()
			consumed = true
		case top.typ == pFMap && token.Kind == pyyaml.FlowMappingEnd && !consumed:
			s.pop()
			consumed = true
		case (top.typ == pBMap || top.typ == pBSeq) && token.Kind == pyyaml.BlockEnd &&
			!top.implicitBlockSeq && !consumed:
			s.pop()
			consumed = true
		case top.typ == pBEnt && token.Kind != pyyaml.BlockEntry && s.top(2).implicitBlockSeq &&
			!isKind(token, pyyaml.Anchor, pyyaml.Tag) && !isKind(next, pyyaml.BlockEntry):
			s.pop()
			s.pop()
		case top.typ == pBEnt && isKind(next, pyyaml.BlockEntry, pyyaml.BlockEnd):
			s.pop()
		case top.typ == pVal && token.Kind != pyyaml.Value && !isKind(token, pyyaml.Anchor, pyyaml.Tag):
			assert(s.top(2).typ == pKey)
			s.pop()
			s.pop()
		case top.typ == pKey && isKind(next, pyyaml.BlockEnd, pyyaml.FlowMappingEnd, pyyaml.FlowSequenceEnd, pyyaml.Key):
			// a key without a value (a set): drop it
			s.pop()
		default:
			return
		}
	}
}

func checkScalarIndentation(token *pyyaml.Token, s *indentState, buf []rune, ps *[]Problem) {
	if token.Start.Line == token.End.Line {
		return
	}
	detect := func(base, found int) int {
		if !s.spacesKnown {
			s.spaces = found - base
			s.spacesKnown = true
		}
		return base + s.spaces
	}
	computeExpected := func(found int) int {
		if token.Plain {
			return token.Start.Column
		}
		switch token.Style {
		case '"', '\'':
			return token.Start.Column + 1
		case '>', '|':
			top := s.top(1)
			switch top.typ {
			case pBEnt:
				return detect(token.Start.Column, found)
			case pKey:
				assert(top.explicitKey)
				return detect(token.Start.Column, found)
			case pVal:
				if token.Start.Line+1 > s.curLine {
					return detect(top.indent, found)
				} else if s.top(2).explicitKey {
					return detect(token.Start.Column, found)
				}
				return detect(s.top(2).indent, found)
			}
			return detect(top.indent, found)
		}
		return 0
	}
	expected := 0
	haveExpected := false
	lineNo := token.Start.Line + 1
	lineStart := token.Start.Pointer
	for {
		// buffer.find('\n', line_start, end_mark.pointer - 1) + 1
		found := -1
		for i := lineStart; i < token.End.Pointer-1; i++ {
			if buf[i] == '\n' {
				found = i
				break
			}
		}
		lineStart = found + 1
		if lineStart == 0 {
			break
		}
		lineNo++
		indent := 0
		for buf[lineStart+indent] == ' ' {
			indent++
		}
		if buf[lineStart+indent] == '\n' {
			continue
		}
		if !haveExpected {
			expected = computeExpected(indent)
			haveExpected = true
		}
		if indent != expected {
			*ps = append(*ps, problem(lineNo, indent+1,
				fmt.Sprintf("wrong indentation: expected %d but found %d", expected, indent)))
		}
	}
}
