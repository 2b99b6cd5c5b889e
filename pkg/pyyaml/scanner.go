package pyyaml

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type simpleKey struct {
	level       int
	tokenNumber int
	required    bool
	index       int
	line        int
	column      int
	mark        Mark
}

// Scanner is PyYAML's Scanner: it produces tokens lazily, looking ahead only
// as far as PyYAML does, so errors surface at the same token.
type Scanner struct {
	reader
	done           bool
	flowLevel      int
	queue          []*Token
	head           int
	tokensTaken    int
	indent         int
	indents        []int
	allowSimpleKey bool
	keys           []simpleKey // possible simple keys, in insertion order
	err            error
	slab           []Token
	noValues       bool // the parser-only pass needs no scalar values
}

// NewScanner scans text (which must already pass CheckPrintable).
func NewScanner(text []rune) *Scanner {
	buf := make([]rune, len(text)+1)
	copy(buf, text)
	return NewScannerBuffer(buf)
}

// NewScannerBuffer scans buf, which must end with a NUL (PyYAML's reader
// buffer); the scanner does not modify it, so scanners may share it.
func NewScannerBuffer(buf []rune) *Scanner {
	s := &Scanner{reader: reader{buf: buf}, indent: -1, allowSimpleKey: true}
	m := s.mark()
	s.queue = append(s.queue, &Token{Kind: StreamStart, Start: m, End: m})
	return s
}

// Buffer is the scanned text plus the trailing NUL (PyYAML's mark buffer).
func (s *Scanner) Buffer() []rune { return s.buf }

func (s *Scanner) pending() int { return len(s.queue) - s.head }

func (s *Scanner) fill() error {
	if s.err != nil {
		return s.err
	}
	for s.needMoreTokens() {
		s.fetchMoreTokens()
		if s.err != nil {
			return s.err
		}
	}
	return s.err
}

// PeekToken returns the next token without consuming it; nil at the end.
func (s *Scanner) PeekToken() (*Token, error) {
	if err := s.fill(); err != nil {
		return nil, err
	}
	if s.pending() > 0 {
		return s.queue[s.head], nil
	}
	return nil, nil
}

// GetToken consumes and returns the next token; nil at the end.
func (s *Scanner) GetToken() (*Token, error) {
	if err := s.fill(); err != nil {
		return nil, err
	}
	if s.pending() > 0 {
		t := s.queue[s.head]
		s.queue[s.head] = nil
		s.head++
		s.tokensTaken++
		if s.head > 64 && s.head*2 > len(s.queue) {
			n := copy(s.queue, s.queue[s.head:])
			s.queue = s.queue[:n]
			s.head = 0
		}
		return t, nil
	}
	return nil, nil
}

func (s *Scanner) needMoreTokens() bool {
	if s.done {
		return false
	}
	if s.pending() == 0 {
		return true
	}
	s.staleKeys()
	if s.err != nil {
		return false
	}
	n, ok := s.nextPossibleSimpleKey()
	return ok && n == s.tokensTaken
}

func (s *Scanner) fail(context string, contextMark *Mark, problem string, problemMark Mark) {
	if s.err == nil {
		s.err = &MarkedError{Kind: "scanner", Context: context, ContextMark: contextMark,
			Problem: problem, ProblemMark: &problemMark, buf: s.buf}
	}
}

func (s *Scanner) add(t *Token) { s.queue = append(s.queue, t) }

// newToken allocates tokens in slabs: far fewer allocations per file.
func (s *Scanner) newToken(t Token) *Token {
	if len(s.slab) == 0 {
		s.slab = make([]Token, 128)
	}
	p := &s.slab[0]
	*p = t
	s.slab = s.slab[1:]
	return p
}

// write appends runes to a scalar value, unless values are not wanted.
func (s *Scanner) write(b *strings.Builder, rs []rune) {
	if s.noValues {
		return
	}
	for _, r := range rs {
		b.WriteRune(r)
	}
}

func (s *Scanner) fetchMoreTokens() {
	s.scanToNextToken()
	s.staleKeys()
	if s.err != nil {
		return
	}
	s.unwindIndent(s.column)
	ch := s.peek(0)
	switch {
	case ch == 0:
		s.fetchStreamEnd()
	case ch == '%' && s.column == 0:
		s.fetchDirective()
	case ch == '-' && s.checkDocumentIndicator("---"):
		s.fetchDocumentIndicator(DocumentStart)
	case ch == '.' && s.checkDocumentIndicator("..."):
		s.fetchDocumentIndicator(DocumentEnd)
	case ch == '[':
		s.fetchFlowCollectionStart(FlowSequenceStart)
	case ch == '{':
		s.fetchFlowCollectionStart(FlowMappingStart)
	case ch == ']':
		s.fetchFlowCollectionEnd(FlowSequenceEnd)
	case ch == '}':
		s.fetchFlowCollectionEnd(FlowMappingEnd)
	case ch == ',':
		s.fetchFlowEntry()
	case ch == '-' && isBlankz(s.peek(1)):
		s.fetchBlockEntry()
	case ch == '?' && (s.flowLevel != 0 || isBlankz(s.peek(1))):
		s.fetchKey()
	case ch == ':' && (s.flowLevel != 0 || isBlankz(s.peek(1))):
		s.fetchValue()
	case ch == '*':
		s.saveSimpleKey()
		s.allowSimpleKey = false
		s.scanAnchor(Alias)
	case ch == '&':
		s.saveSimpleKey()
		s.allowSimpleKey = false
		s.scanAnchor(Anchor)
	case ch == '!':
		s.saveSimpleKey()
		s.allowSimpleKey = false
		s.scanTag()
	case ch == '|' && s.flowLevel == 0:
		s.fetchBlockScalar('|')
	case ch == '>' && s.flowLevel == 0:
		s.fetchBlockScalar('>')
	case ch == '\'':
		s.fetchFlowScalar('\'')
	case ch == '"':
		s.fetchFlowScalar('"')
	case s.checkPlain():
		s.saveSimpleKey()
		s.allowSimpleKey = false
		s.scanPlain()
	default:
		s.fail("while scanning for the next token", nil,
			fmt.Sprintf("found character %s that cannot start any token", Repr(string(ch))), s.mark())
	}
}

// Simple keys.

func (s *Scanner) nextPossibleSimpleKey() (int, bool) {
	if len(s.keys) == 0 {
		return 0, false
	}
	// Keys are saved in token order, so the first has the lowest number.
	return s.keys[0].tokenNumber, true
}

// staleKeys drops keys no longer possible. Keys are saved in input order, so
// the stale ones are a prefix of s.keys.
func (s *Scanner) staleKeys() {
	i := 0
	for ; i < len(s.keys); i++ {
		k := &s.keys[i]
		if k.line == s.line && s.pointer-k.index <= 1024 {
			break
		}
		if k.required {
			m := k.mark
			s.fail("while scanning a simple key", &m, "could not find expected ':'", s.mark())
			return
		}
	}
	if i > 0 {
		s.keys = s.keys[i:]
	}
}

// keyAt finds the possible key of a flow level. Keys deeper than the
// current level are dropped when their collection ends and a new key is
// saved at the current level, so levels increase along s.keys: only the
// last key can be at the current level.
func (s *Scanner) keyAt(level int) int {
	if n := len(s.keys); n > 0 && s.keys[n-1].level == level {
		return n - 1
	}
	return -1
}

func (s *Scanner) saveSimpleKey() {
	required := s.flowLevel == 0 && s.indent == s.column
	if s.allowSimpleKey {
		s.removeSimpleKey()
		if s.err != nil {
			return
		}
		s.keys = append(s.keys, simpleKey{level: s.flowLevel, tokenNumber: s.tokensTaken + s.pending(),
			required: required, index: s.pointer, line: s.line, column: s.column, mark: s.mark()})
	}
}

func (s *Scanner) removeSimpleKey() {
	if i := s.keyAt(s.flowLevel); i >= 0 {
		k := s.keys[i]
		if k.required {
			m := k.mark
			s.fail("while scanning a simple key", &m, "could not find expected ':'", s.mark())
			return
		}
		s.keys = append(s.keys[:i], s.keys[i+1:]...)
	}
}

// Indentation.

func (s *Scanner) unwindIndent(column int) {
	if s.flowLevel != 0 {
		return
	}
	for s.indent > column {
		m := s.mark()
		s.indent = s.indents[len(s.indents)-1]
		s.indents = s.indents[:len(s.indents)-1]
		s.add(s.newToken(Token{Kind: BlockEnd, Start: m, End: m}))
	}
}

func (s *Scanner) addIndent(column int) bool {
	if s.indent < column {
		s.indents = append(s.indents, s.indent)
		s.indent = column
		return true
	}
	return false
}

// Fetchers.

func (s *Scanner) fetchStreamEnd() {
	s.unwindIndent(-1)
	s.removeSimpleKey()
	if s.err != nil {
		return
	}
	s.allowSimpleKey = false
	s.keys = nil
	m := s.mark()
	s.add(s.newToken(Token{Kind: StreamEnd, Start: m, End: m}))
	s.done = true
}

func (s *Scanner) fetchDirective() {
	s.unwindIndent(-1)
	s.removeSimpleKey()
	if s.err != nil {
		return
	}
	s.allowSimpleKey = false
	s.scanDirective()
}

func (s *Scanner) checkDocumentIndicator(ind string) bool {
	return s.column == 0 && s.prefixIs(ind) && isBlankz(s.peek(3))
}

func (s *Scanner) fetchDocumentIndicator(kind TokenKind) {
	s.unwindIndent(-1)
	s.removeSimpleKey()
	if s.err != nil {
		return
	}
	s.allowSimpleKey = false
	start := s.mark()
	s.forward(3)
	s.add(s.newToken(Token{Kind: kind, Start: start, End: s.mark()}))
}

func (s *Scanner) fetchFlowCollectionStart(kind TokenKind) {
	s.saveSimpleKey()
	if s.err != nil {
		return
	}
	s.flowLevel++
	s.allowSimpleKey = true
	start := s.mark()
	s.forward(1)
	s.add(s.newToken(Token{Kind: kind, Start: start, End: s.mark()}))
}

func (s *Scanner) fetchFlowCollectionEnd(kind TokenKind) {
	s.removeSimpleKey()
	if s.err != nil {
		return
	}
	s.flowLevel--
	s.allowSimpleKey = false
	start := s.mark()
	s.forward(1)
	s.add(s.newToken(Token{Kind: kind, Start: start, End: s.mark()}))
}

func (s *Scanner) fetchFlowEntry() {
	s.allowSimpleKey = true
	s.removeSimpleKey()
	if s.err != nil {
		return
	}
	start := s.mark()
	s.forward(1)
	s.add(s.newToken(Token{Kind: FlowEntry, Start: start, End: s.mark()}))
}

func (s *Scanner) fetchBlockEntry() {
	if s.flowLevel == 0 {
		if !s.allowSimpleKey {
			s.fail("", nil, "sequence entries are not allowed here", s.mark())
			return
		}
		if s.addIndent(s.column) {
			m := s.mark()
			s.add(s.newToken(Token{Kind: BlockSequenceStart, Start: m, End: m}))
		}
	}
	s.allowSimpleKey = true
	s.removeSimpleKey()
	if s.err != nil {
		return
	}
	start := s.mark()
	s.forward(1)
	s.add(s.newToken(Token{Kind: BlockEntry, Start: start, End: s.mark()}))
}

func (s *Scanner) fetchKey() {
	if s.flowLevel == 0 {
		if !s.allowSimpleKey {
			s.fail("", nil, "mapping keys are not allowed here", s.mark())
			return
		}
		if s.addIndent(s.column) {
			m := s.mark()
			s.add(s.newToken(Token{Kind: BlockMappingStart, Start: m, End: m}))
		}
	}
	s.allowSimpleKey = s.flowLevel == 0
	s.removeSimpleKey()
	if s.err != nil {
		return
	}
	start := s.mark()
	s.forward(1)
	s.add(s.newToken(Token{Kind: Key, Start: start, End: s.mark()}))
}

func (s *Scanner) insert(pos int, t *Token) {
	i := s.head + pos
	s.queue = append(s.queue, nil)
	copy(s.queue[i+1:], s.queue[i:])
	s.queue[i] = t
}

func (s *Scanner) fetchValue() {
	if i := s.keyAt(s.flowLevel); i >= 0 {
		k := s.keys[i]
		s.keys = append(s.keys[:i], s.keys[i+1:]...)
		s.insert(k.tokenNumber-s.tokensTaken, s.newToken(Token{Kind: Key, Start: k.mark, End: k.mark}))
		if s.flowLevel == 0 && s.addIndent(k.column) {
			s.insert(k.tokenNumber-s.tokensTaken, s.newToken(Token{Kind: BlockMappingStart, Start: k.mark, End: k.mark}))
		}
		s.allowSimpleKey = false
	} else {
		if s.flowLevel == 0 {
			if !s.allowSimpleKey {
				s.fail("", nil, "mapping values are not allowed here", s.mark())
				return
			}
			if s.addIndent(s.column) {
				m := s.mark()
				s.add(s.newToken(Token{Kind: BlockMappingStart, Start: m, End: m}))
			}
		}
		s.allowSimpleKey = s.flowLevel == 0
		s.removeSimpleKey()
		if s.err != nil {
			return
		}
	}
	start := s.mark()
	s.forward(1)
	s.add(s.newToken(Token{Kind: Value, Start: start, End: s.mark()}))
}

func (s *Scanner) fetchBlockScalar(style rune) {
	s.allowSimpleKey = true
	s.removeSimpleKey()
	if s.err != nil {
		return
	}
	s.scanBlockScalar(style)
}

func (s *Scanner) fetchFlowScalar(style rune) {
	s.saveSimpleKey()
	if s.err != nil {
		return
	}
	s.allowSimpleKey = false
	s.scanFlowScalar(style)
}

func (s *Scanner) checkPlain() bool {
	ch := s.peek(0)
	if !isBlankz(ch) && !strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`", ch) {
		return true
	}
	return !isBlankz(s.peek(1)) && (ch == '-' || (s.flowLevel == 0 && (ch == '?' || ch == ':')))
}

// Scanners.

func (s *Scanner) scanToNextToken() {
	if s.pointer == 0 && s.peek(0) == 0xFEFF {
		s.forward(1)
	}
	for {
		for s.peek(0) == ' ' {
			s.forward(1)
		}
		if s.peek(0) == '#' {
			for !isBreakz(s.peek(0)) {
				s.forward(1)
			}
		}
		if s.scanLineBreak() != "" {
			if s.flowLevel == 0 {
				s.allowSimpleKey = true
			}
		} else {
			return
		}
	}
}

func (s *Scanner) scanDirective() {
	start := s.mark()
	s.forward(1)
	name, ok := s.scanDirectiveName(start)
	if !ok {
		return
	}
	t := &Token{Kind: Directive, Value: name, Start: start, Extra: &Extra{}}
	var end Mark
	switch name {
	case "YAML":
		if !s.scanYAMLDirectiveValue(start, t) {
			return
		}
		end = s.mark()
	case "TAG":
		if !s.scanTagDirectiveValue(start, t) {
			return
		}
		end = s.mark()
	default:
		end = s.mark()
		for !isBreakz(s.peek(0)) {
			s.forward(1)
		}
	}
	if !s.scanDirectiveIgnoredLine(start) {
		return
	}
	t.End = end
	s.add(t)
}

func (s *Scanner) scanDirectiveName(start Mark) (string, bool) {
	n := 0
	ch := s.peek(n)
	for isAlnum(ch) {
		n++
		ch = s.peek(n)
	}
	if n == 0 {
		s.fail("while scanning a directive", &start,
			fmt.Sprintf("expected alphabetic or numeric character, but found %s", Repr(string(ch))), s.mark())
		return "", false
	}
	value := string(s.prefix(n))
	s.forward(n)
	ch = s.peek(0)
	if !isSpacez(ch) {
		s.fail("while scanning a directive", &start,
			fmt.Sprintf("expected alphabetic or numeric character, but found %s", Repr(string(ch))), s.mark())
		return "", false
	}
	return value, true
}

func (s *Scanner) scanYAMLDirectiveValue(start Mark, t *Token) bool {
	for s.peek(0) == ' ' {
		s.forward(1)
	}
	major, ok := s.scanYAMLDirectiveNumber(start)
	if !ok {
		return false
	}
	if s.peek(0) != '.' {
		s.fail("while scanning a directive", &start,
			fmt.Sprintf("expected a digit or '.', but found %s", Repr(string(s.peek(0)))), s.mark())
		return false
	}
	s.forward(1)
	minor, ok := s.scanYAMLDirectiveNumber(start)
	if !ok {
		return false
	}
	if !isSpacez(s.peek(0)) {
		s.fail("while scanning a directive", &start,
			fmt.Sprintf("expected a digit or ' ', but found %s", Repr(string(s.peek(0)))), s.mark())
		return false
	}
	t.Major, t.Minor = major, minor
	return true
}

func (s *Scanner) scanYAMLDirectiveNumber(start Mark) (int, bool) {
	ch := s.peek(0)
	if ch < '0' || ch > '9' {
		s.fail("while scanning a directive", &start,
			fmt.Sprintf("expected a digit, but found %s", Repr(string(ch))), s.mark())
		return 0, false
	}
	n := 0
	for c := s.peek(n); '0' <= c && c <= '9'; c = s.peek(n) {
		n++
	}
	v, err := strconv.Atoi(string(s.prefix(n)))
	if err != nil {
		v = 1 << 30 // absurdly long numbers are simply not 1
	}
	s.forward(n)
	return v, true
}

func (s *Scanner) scanTagDirectiveValue(start Mark, t *Token) bool {
	for s.peek(0) == ' ' {
		s.forward(1)
	}
	handle, ok := s.scanTagHandle("directive", start)
	if !ok {
		return false
	}
	if ch := s.peek(0); ch != ' ' {
		s.fail("while scanning a directive", &start,
			fmt.Sprintf("expected ' ', but found %s", Repr(string(ch))), s.mark())
		return false
	}
	for s.peek(0) == ' ' {
		s.forward(1)
	}
	prefix, ok := s.scanTagURI("directive", start)
	if !ok {
		return false
	}
	if ch := s.peek(0); !isSpacez(ch) {
		s.fail("while scanning a directive", &start,
			fmt.Sprintf("expected ' ', but found %s", Repr(string(ch))), s.mark())
		return false
	}
	t.Handle, t.HasHandle, t.TagPrefix = handle, true, prefix
	return true
}

func (s *Scanner) scanDirectiveIgnoredLine(start Mark) bool {
	for s.peek(0) == ' ' {
		s.forward(1)
	}
	if s.peek(0) == '#' {
		for !isBreakz(s.peek(0)) {
			s.forward(1)
		}
	}
	if ch := s.peek(0); !isBreakz(ch) {
		s.fail("while scanning a directive", &start,
			fmt.Sprintf("expected a comment or a line break, but found %s", Repr(string(ch))), s.mark())
		return false
	}
	s.scanLineBreak()
	return true
}

func (s *Scanner) scanAnchor(kind TokenKind) {
	start := s.mark()
	name := "anchor"
	if s.peek(0) == '*' {
		name = "alias"
	}
	s.forward(1)
	n := 0
	ch := s.peek(n)
	for isAlnum(ch) {
		n++
		ch = s.peek(n)
	}
	if n == 0 {
		s.fail("while scanning an "+name, &start,
			fmt.Sprintf("expected alphabetic or numeric character, but found %s", Repr(string(ch))), s.mark())
		return
	}
	value := string(s.prefix(n))
	s.forward(n)
	ch = s.peek(0)
	if !isBlankz(ch) && !strings.ContainsRune("?:,]}%@`", ch) {
		s.fail("while scanning an "+name, &start,
			fmt.Sprintf("expected alphabetic or numeric character, but found %s", Repr(string(ch))), s.mark())
		return
	}
	s.add(s.newToken(Token{Kind: kind, Value: value, Start: start, End: s.mark()}))
}

func (s *Scanner) scanTag() {
	start := s.mark()
	ch := s.peek(1)
	var handle, suffix string
	hasHandle := true
	switch {
	case ch == '<':
		hasHandle = false
		s.forward(2)
		var ok bool
		if suffix, ok = s.scanTagURI("tag", start); !ok {
			return
		}
		if s.peek(0) != '>' {
			s.fail("while parsing a tag", &start,
				fmt.Sprintf("expected '>', but found %s", Repr(string(s.peek(0)))), s.mark())
			return
		}
		s.forward(1)
	case isBlankz(ch):
		hasHandle = false
		suffix = "!"
		s.forward(1)
	default:
		n := 1
		useHandle := false
		for !isSpacez(ch) {
			if ch == '!' {
				useHandle = true
				break
			}
			n++
			ch = s.peek(n)
		}
		if useHandle {
			var ok bool
			if handle, ok = s.scanTagHandle("tag", start); !ok {
				return
			}
		} else {
			handle = "!"
			s.forward(1)
		}
		var ok bool
		if suffix, ok = s.scanTagURI("tag", start); !ok {
			return
		}
	}
	if ch := s.peek(0); !isSpacez(ch) {
		s.fail("while scanning a tag", &start,
			fmt.Sprintf("expected ' ', but found %s", Repr(string(ch))), s.mark())
		return
	}
	s.add(s.newToken(Token{Kind: Tag, Extra: &Extra{Handle: handle, HasHandle: hasHandle, Suffix: suffix}, Start: start, End: s.mark()}))
}

func (s *Scanner) scanBlockScalar(style rune) {
	folded := style == '>'
	var chunks strings.Builder
	start := s.mark()
	s.forward(1)
	chomping, increment, ok := s.scanBlockScalarIndicators(start)
	if !ok {
		return
	}
	if !s.scanBlockScalarIgnoredLine(start) {
		return
	}
	minIndent := s.indent + 1
	if minIndent < 1 {
		minIndent = 1
	}
	var breaks []string
	var end Mark
	var indent int
	if increment == 0 {
		var maxIndent int
		breaks, maxIndent, end = s.scanBlockScalarIndentation()
		indent = max(minIndent, maxIndent)
	} else {
		indent = minIndent + increment - 1
		breaks, end = s.scanBlockScalarBreaks(indent)
	}
	lineBreak := ""
	for s.column == indent && s.peek(0) != 0 {
		for _, b := range breaks {
			chunks.WriteString(b)
		}
		leadingNonSpace := s.peek(0) != ' ' && s.peek(0) != '\t'
		n := 0
		for !isBreakz(s.peek(n)) {
			n++
		}
		s.write(&chunks, s.prefix(n))
		s.forward(n)
		lineBreak = s.scanLineBreak()
		breaks, end = s.scanBlockScalarBreaks(indent)
		if s.column == indent && s.peek(0) != 0 {
			if folded && lineBreak == "\n" && leadingNonSpace && s.peek(0) != ' ' && s.peek(0) != '\t' {
				if len(breaks) == 0 {
					chunks.WriteByte(' ')
				}
			} else {
				chunks.WriteString(lineBreak)
			}
		} else {
			break
		}
	}
	if chomping != '-' {
		chunks.WriteString(lineBreak)
	}
	if chomping == '+' {
		for _, b := range breaks {
			chunks.WriteString(b)
		}
	}
	s.add(s.newToken(Token{Kind: Scalar, Value: chunks.String(), Style: style, Start: start, End: end}))
}

// scanBlockScalarIndicators returns chomping ('+', '-' or 0) and increment
// (0 when absent).
func (s *Scanner) scanBlockScalarIndicators(start Mark) (rune, int, bool) {
	var chomping rune
	increment := 0
	ch := s.peek(0)
	badZero := func() (rune, int, bool) {
		s.fail("while scanning a block scalar", &start,
			"expected indentation indicator in the range 1-9, but found 0", s.mark())
		return 0, 0, false
	}
	if ch == '+' || ch == '-' {
		chomping = ch
		s.forward(1)
		ch = s.peek(0)
		if '0' <= ch && ch <= '9' {
			increment = int(ch - '0')
			if increment == 0 {
				return badZero()
			}
			s.forward(1)
		}
	} else if '0' <= ch && ch <= '9' {
		increment = int(ch - '0')
		if increment == 0 {
			return badZero()
		}
		s.forward(1)
		ch = s.peek(0)
		if ch == '+' || ch == '-' {
			chomping = ch
			s.forward(1)
		}
	}
	if ch := s.peek(0); !isSpacez(ch) {
		s.fail("while scanning a block scalar", &start,
			fmt.Sprintf("expected chomping or indentation indicators, but found %s", Repr(string(ch))), s.mark())
		return 0, 0, false
	}
	return chomping, increment, true
}

func (s *Scanner) scanBlockScalarIgnoredLine(start Mark) bool {
	for s.peek(0) == ' ' {
		s.forward(1)
	}
	if s.peek(0) == '#' {
		for !isBreakz(s.peek(0)) {
			s.forward(1)
		}
	}
	if ch := s.peek(0); !isBreakz(ch) {
		s.fail("while scanning a block scalar", &start,
			fmt.Sprintf("expected a comment or a line break, but found %s", Repr(string(ch))), s.mark())
		return false
	}
	s.scanLineBreak()
	return true
}

func (s *Scanner) scanBlockScalarIndentation() ([]string, int, Mark) {
	var chunks []string
	maxIndent := 0
	end := s.mark()
	for ch := s.peek(0); ch == ' ' || isBreak(ch); ch = s.peek(0) {
		if ch != ' ' {
			chunks = append(chunks, s.scanLineBreak())
			end = s.mark()
		} else {
			s.forward(1)
			if s.column > maxIndent {
				maxIndent = s.column
			}
		}
	}
	return chunks, maxIndent, end
}

func (s *Scanner) scanBlockScalarBreaks(indent int) ([]string, Mark) {
	var chunks []string
	end := s.mark()
	for s.column < indent && s.peek(0) == ' ' {
		s.forward(1)
	}
	for isBreak(s.peek(0)) {
		chunks = append(chunks, s.scanLineBreak())
		end = s.mark()
		for s.column < indent && s.peek(0) == ' ' {
			s.forward(1)
		}
	}
	return chunks, end
}

var escapeReplacements = map[rune]string{
	'0': "\x00", 'a': "\x07", 'b': "\x08", 't': "\x09", '\t': "\x09", 'n': "\x0A",
	'v': "\x0B", 'f': "\x0C", 'r': "\x0D", 'e': "\x1B", ' ': "\x20", '"': "\"",
	'\\': "\\", '/': "/", 'N': "\u0085", '_': "\u00A0", 'L': "\u2028", 'P': "\u2029",
}

var escapeCodes = map[rune]int{'x': 2, 'u': 4, 'U': 8}

func (s *Scanner) scanFlowScalar(style rune) {
	double := style == '"'
	var chunks strings.Builder
	start := s.mark()
	quote := s.peek(0)
	s.forward(1)
	if !s.scanFlowScalarNonSpaces(double, start, &chunks) {
		return
	}
	for s.peek(0) != quote {
		if !s.scanFlowScalarSpaces(double, start, &chunks) {
			return
		}
		if !s.scanFlowScalarNonSpaces(double, start, &chunks) {
			return
		}
	}
	s.forward(1)
	s.add(s.newToken(Token{Kind: Scalar, Value: chunks.String(), Style: style, Start: start, End: s.mark()}))
}

func (s *Scanner) scanFlowScalarNonSpaces(double bool, start Mark, chunks *strings.Builder) bool {
	for {
		n := 0
		for c := s.peek(n); c != '\'' && c != '"' && c != '\\' && !isBlankz(c); c = s.peek(n) {
			n++
		}
		if n > 0 {
			s.write(chunks, s.prefix(n))
			s.forward(n)
		}
		ch := s.peek(0)
		switch {
		case !double && ch == '\'' && s.peek(1) == '\'':
			chunks.WriteByte('\'')
			s.forward(2)
		case (double && ch == '\'') || (!double && (ch == '"' || ch == '\\')):
			chunks.WriteRune(ch)
			s.forward(1)
		case double && ch == '\\':
			s.forward(1)
			ch = s.peek(0)
			if r, ok := escapeReplacements[ch]; ok {
				chunks.WriteString(r)
				s.forward(1)
			} else if length, ok := escapeCodes[ch]; ok {
				s.forward(1)
				for k := 0; k < length; k++ {
					if !isHex(s.peek(k)) {
						s.fail("while scanning a double-quoted scalar", &start,
							fmt.Sprintf("expected escape sequence of %d hexadecimal numbers, but found %s",
								length, Repr(string(s.peek(k)))), s.mark())
						return false
					}
				}
				code, _ := strconv.ParseUint(string(s.prefix(length)), 16, 32)
				if code > utf8.MaxRune {
					// Python's chr() raises ValueError here: yamllint crashes.
					s.fail("while scanning a double-quoted scalar", &start,
						"chr() arg not in range(0x110000)", s.mark())
					return false
				}
				chunks.WriteRune(rune(code))
				s.forward(length)
			} else if isBreak(ch) {
				s.scanLineBreak()
				if !s.scanFlowScalarBreaks(start, chunks) {
					return false
				}
			} else {
				s.fail("while scanning a double-quoted scalar", &start,
					fmt.Sprintf("found unknown escape character %s", Repr(string(ch))), s.mark())
				return false
			}
		default:
			return true
		}
	}
}

func (s *Scanner) scanFlowScalarSpaces(double bool, start Mark, chunks *strings.Builder) bool {
	n := 0
	for c := s.peek(n); c == ' ' || c == '\t'; c = s.peek(n) {
		n++
	}
	whitespaces := s.prefix(n)
	s.forward(n)
	ch := s.peek(0)
	switch {
	case ch == 0:
		s.fail("while scanning a quoted scalar", &start, "found unexpected end of stream", s.mark())
		return false
	case isBreak(ch):
		lineBreak := s.scanLineBreak()
		var breaks strings.Builder
		if !s.scanFlowScalarBreaks(start, &breaks) {
			return false
		}
		if lineBreak != "\n" {
			chunks.WriteString(lineBreak)
		} else if breaks.Len() == 0 {
			chunks.WriteByte(' ')
		}
		chunks.WriteString(breaks.String())
	default:
		s.write(chunks, whitespaces)
	}
	return true
}

func (s *Scanner) scanFlowScalarBreaks(start Mark, chunks *strings.Builder) bool {
	for {
		if (s.prefixIs("---") || s.prefixIs("...")) && isBlankz(s.peek(3)) {
			s.fail("while scanning a quoted scalar", &start, "found unexpected document separator", s.mark())
			return false
		}
		for c := s.peek(0); c == ' ' || c == '\t'; c = s.peek(0) {
			s.forward(1)
		}
		if isBreak(s.peek(0)) {
			chunks.WriteString(s.scanLineBreak())
		} else {
			return true
		}
	}
}

func (s *Scanner) scanPlain() {
	var chunks strings.Builder
	start := s.mark()
	end := start
	indent := s.indent + 1
	var spaces []string
	// most plain scalars are one chunk: take it as one string
	firstFrom, firstTo, nChunks := 0, 0, 0
	for {
		n := 0
		if s.peek(0) == '#' {
			break
		}
		for {
			ch := s.peek(n)
			if isBlankz(ch) {
				break
			}
			if ch == ':' {
				nx := s.peek(n + 1)
				if isBlankz(nx) || (s.flowLevel != 0 && strings.ContainsRune(",[]{}", nx)) {
					break
				}
			}
			if s.flowLevel != 0 && strings.ContainsRune(",?[]{}", ch) {
				break
			}
			n++
		}
		if n == 0 {
			break
		}
		s.allowSimpleKey = false
		nChunks++
		if nChunks == 1 {
			firstFrom, firstTo = s.pointer, s.pointer+n
		} else {
			if nChunks == 2 && !s.noValues {
				chunks.WriteString(string(s.buf[firstFrom:firstTo]))
			}
			if !s.noValues {
				for _, sp := range spaces {
					chunks.WriteString(sp)
				}
			}
			s.write(&chunks, s.prefix(n))
		}
		s.forward(n)
		end = s.mark()
		var ok bool
		spaces, ok = s.scanPlainSpaces()
		if !ok || len(spaces) == 0 || s.peek(0) == '#' || (s.flowLevel == 0 && s.column < indent) {
			break
		}
	}
	value := ""
	switch {
	case s.noValues:
	case nChunks == 1:
		value = string(s.buf[firstFrom:firstTo])
	default:
		value = chunks.String()
	}
	s.add(s.newToken(Token{Kind: Scalar, Value: value, Plain: true, Start: start, End: end}))
}

// scanPlainSpaces returns the chunks; ok is false where PyYAML returns None.
func (s *Scanner) scanPlainSpaces() ([]string, bool) {
	var chunks []string
	n := 0
	for s.peek(n) == ' ' {
		n++
	}
	whitespaces := s.prefix(n)
	s.forward(n)
	ch := s.peek(0)
	if isBreak(ch) {
		lineBreak := s.scanLineBreak()
		s.allowSimpleKey = true
		if (s.prefixIs("---") || s.prefixIs("...")) && isBlankz(s.peek(3)) {
			return nil, false
		}
		var breaks []string
		for c := s.peek(0); c == ' ' || isBreak(c); c = s.peek(0) {
			if c == ' ' {
				s.forward(1)
			} else {
				breaks = append(breaks, s.scanLineBreak())
				if (s.prefixIs("---") || s.prefixIs("...")) && isBlankz(s.peek(3)) {
					return nil, false
				}
			}
		}
		if lineBreak != "\n" {
			chunks = append(chunks, lineBreak)
		} else if len(breaks) == 0 {
			chunks = append(chunks, " ")
		}
		chunks = append(chunks, breaks...)
	} else if len(whitespaces) > 0 {
		chunks = append(chunks, string(whitespaces))
	}
	return chunks, true
}

func (s *Scanner) scanTagHandle(name string, start Mark) (string, bool) {
	ch := s.peek(0)
	if ch != '!' {
		s.fail("while scanning a "+name, &start,
			fmt.Sprintf("expected '!', but found %s", Repr(string(ch))), s.mark())
		return "", false
	}
	n := 1
	ch = s.peek(n)
	if ch != ' ' {
		for isAlnum(ch) {
			n++
			ch = s.peek(n)
		}
		if ch != '!' {
			s.forward(n)
			s.fail("while scanning a "+name, &start,
				fmt.Sprintf("expected '!', but found %s", Repr(string(ch))), s.mark())
			return "", false
		}
		n++
	}
	value := string(s.prefix(n))
	s.forward(n)
	return value, true
}

func isURIChar(c rune) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' ||
		strings.ContainsRune("-;/?:@&=+$,_.!~*'()[]%", c) && c != 0
}

func (s *Scanner) scanTagURI(name string, start Mark) (string, bool) {
	var chunks strings.Builder
	n := 0
	ch := s.peek(n)
	any := false
	for isURIChar(ch) {
		if ch == '%' {
			s.write(&chunks, s.prefix(n))
			s.forward(n)
			n = 0
			v, ok := s.scanURIEscapes(name, start)
			if !ok {
				return "", false
			}
			chunks.WriteString(v)
			any = true
		} else {
			n++
		}
		ch = s.peek(n)
	}
	if n > 0 {
		s.write(&chunks, s.prefix(n))
		s.forward(n)
		any = true
	}
	if !any {
		s.fail("while parsing a "+name, &start,
			fmt.Sprintf("expected URI, but found %s", Repr(string(ch))), s.mark())
		return "", false
	}
	return chunks.String(), true
}

func (s *Scanner) scanURIEscapes(name string, start Mark) (string, bool) {
	var codes []byte
	m := s.mark()
	for s.peek(0) == '%' {
		s.forward(1)
		for k := 0; k < 2; k++ {
			if !isHex(s.peek(k)) {
				s.fail("while scanning a "+name, &start,
					fmt.Sprintf("expected URI escape sequence of 2 hexadecimal numbers, but found %s",
						Repr(string(s.peek(k)))), s.mark())
				return "", false
			}
		}
		c, _ := strconv.ParseUint(string(s.prefix(2)), 16, 8)
		codes = append(codes, byte(c))
		s.forward(2)
	}
	if !utf8.Valid(codes) {
		s.fail("while scanning a "+name, &start, "'utf-8' codec can't decode bytes: invalid utf-8", m)
		return "", false
	}
	return string(codes), true
}

func (s *Scanner) scanLineBreak() string {
	ch := s.peek(0)
	switch {
	case ch == '\r' || ch == '\n' || ch == 0x85:
		if ch == '\r' && s.peek(1) == '\n' {
			s.forward(2)
		} else {
			s.forward(1)
		}
		return "\n"
	case ch == 0x2028 || ch == 0x2029:
		s.forward(1)
		return string(ch)
	}
	return ""
}
