package yamllint

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/birdflock/runner/pkg/pyyaml"
)

// Problem is one finding (yamllint's LintProblem).
type Problem struct {
	Line   int    // 1-based
	Column int    // 1-based, in characters
	Desc   string // human-readable description
	Rule   string // rule id; "" for syntax errors
	Level  string // "error" or "warning"
}

// Message is the description followed by the rule id, as in parsable output.
func (p Problem) Message() string {
	if p.Rule != "" {
		return fmt.Sprintf("%s (%s)", p.Desc, p.Rule)
	}
	return p.Desc
}

// Line is one line of the input (yamllint's parser.Line).
type Line struct {
	LineNo     int
	Start, End int    // code point offsets, End excludes the line break
	Buffer     []rune // the whole input, without the trailing NUL
}

// Content is the line's text.
func (l *Line) Content() []rune { return l.Buffer[l.Start:l.End] }

// Comment is one comment (yamllint's parser.Comment).
type Comment struct {
	LineNo, ColumnNo int
	Buffer           []rune // the whole input plus a trailing NUL
	Pointer          int
	TokenBefore      *pyyaml.Token
	TokenAfter       *pyyaml.Token
	CommentBefore    *Comment
}

// String is the comment text up to the end of its line.
func (c *Comment) String() string {
	for i := c.Pointer; i < len(c.Buffer); i++ {
		if c.Buffer[i] == '\n' {
			return string(c.Buffer[c.Pointer:i])
		}
	}
	for i := c.Pointer; i < len(c.Buffer); i++ {
		if c.Buffer[i] == 0 {
			return string(c.Buffer[c.Pointer:i])
		}
	}
	return string(c.Buffer[c.Pointer:])
}

// IsInline reports whether the comment follows content on its line.
func (c *Comment) IsInline() bool {
	tb := c.TokenBefore
	if tb.Kind == pyyaml.StreamStart || c.LineNo != tb.End.Line+1 {
		return false
	}
	i := tb.End.Pointer - 1
	if i < 0 {
		i = len(c.Buffer) - 1
	}
	return c.Buffer[i] != '\n'
}

// ErrNotText means the input is not valid UTF-8 text without the control
// characters YAML forbids.
var ErrNotText = errors.New("not a YAML text file")

// Decode turns file content into code points, rejecting what yamllint
// cannot read (invalid UTF-8, characters YAML forbids). Errors name the
// line and column.
func Decode(data []byte) ([]rune, error) {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		line, col := position(data[:off])
		return nil, fmt.Errorf("%d:%d: invalid UTF-8 byte 0x%02x: %w", line, col, data[off], ErrNotText)
	}
	runes := []rune(string(data))
	if err := pyyaml.CheckPrintable(runes); err != nil {
		var re *pyyaml.ReaderError
		errors.As(err, &re)
		line, col := position([]byte(string(runes[:re.Position])))
		return nil, fmt.Errorf("%d:%d: unacceptable character #x%04x: special characters are not allowed: %w",
			line, col, re.Character, ErrNotText)
	}
	return runes, nil
}

func position(prefix []byte) (int, int) {
	line := 1 + strings.Count(string(prefix), "\n")
	last := strings.LastIndexByte(string(prefix), '\n')
	return line, utf8.RuneCount(prefix[last+1:]) + 1
}

var (
	disableFileRe = regexp.MustCompile(`^#` + pyS + `*yamllint disable-file` + pyS + `*$`)
	disableRe     = regexp.MustCompile(`^# yamllint disable( rule:` + pyNS + `+)*` + pyS + `*$`)
	enableRe      = regexp.MustCompile(`^# yamllint enable( rule:` + pyNS + `+)*` + pyS + `*$`)
	disableLineRe = regexp.MustCompile(`^# yamllint disable-line( rule:` + pyNS + `+)*` + pyS + `*$`)
)

// Python's \s and \S for str patterns.
const (
	pySpaceClass = `\t\n\v\f\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`
	pyS          = `[` + pySpaceClass + `]`
	pyNS         = `[^` + pySpaceClass + `]`
)

// Lint lints text (as returned by Decode) with conf; filepath selects the
// per-rule `ignore` patterns ("" for none). It returns problems in
// yamllint's order.
func Lint(text []rune, conf *Config, filepath string) []Problem {
	if filepath != "" && conf.IsFileIgnored(filepath) {
		return nil
	}
	first := text
	for i, r := range text {
		if r == '\n' {
			first = text[:i]
			if i > 0 && text[i-1] == '\r' {
				first = text[:i-1]
			}
			break
		}
	}
	if disableFileRe.MatchString(string(first)) {
		return nil
	}
	buf := make([]rune, len(text)+1) // PyYAML's buffer: the text and a NUL
	copy(buf, text)
	syntax := syntaxError(buf)
	var out []Problem
	cosmetic(buf, conf, filepath, func(p Problem) {
		if syntax != nil && syntax.Line <= p.Line && syntax.Column <= p.Column {
			out = append(out, *syntax)
			syntax = nil
			return
		}
		out = append(out, p)
	})
	if syntax != nil {
		out = append(out, *syntax)
	}
	return out
}

func syntaxError(buf []rune) *Problem {
	err := pyyaml.CheckBuffer(buf)
	var me *pyyaml.MarkedError
	if errors.As(err, &me) {
		return &Problem{Line: me.ProblemMark.Line + 1, Column: me.ProblemMark.Column + 1,
			Desc: "syntax error: " + me.Problem + " (syntax)", Level: "error"}
	}
	return nil
}

type directive struct {
	rules map[string]bool
	all   []string
}

func (d *directive) disabled(p Problem) bool { return d.rules[p.Rule] }

func ruleItems(comment string, skip int) []string {
	rest := strings.TrimRightFunc(comment[skip:], isPySpace)
	items := strings.Split(rest, " ")
	var ids []string
	for _, it := range items[1:] {
		if len(it) > 5 {
			ids = append(ids, it[5:])
		} else {
			ids = append(ids, "")
		}
	}
	return ids
}

func (d *directive) process(comment string) {
	if disableRe.MatchString(comment) {
		ids := ruleItems(comment, 18)
		if len(ids) == 0 {
			d.rules = map[string]bool{}
			for _, id := range d.all {
				d.rules[id] = true
			}
		} else {
			d.addKnown(ids)
		}
	} else if enableRe.MatchString(comment) {
		ids := ruleItems(comment, 17)
		if len(ids) == 0 {
			d.rules = map[string]bool{}
		} else {
			for _, id := range ids {
				delete(d.rules, id)
			}
		}
	}
}

func (d *directive) addKnown(ids []string) {
	for _, id := range ids {
		for _, known := range d.all {
			if id == known {
				d.rules[id] = true
			}
		}
	}
}

func (d *directive) processLine(comment string) {
	if disableLineRe.MatchString(comment) {
		ids := ruleItems(comment, 23)
		if len(ids) == 0 {
			d.rules = map[string]bool{}
			for _, id := range d.all {
				d.rules[id] = true
			}
		} else {
			d.addKnown(ids)
		}
	}
}

type activeRule struct {
	r     *rule
	o     Options
	state any
}

// cosmetic runs the rules; buf is the text followed by a NUL.
func cosmetic(buf []rune, conf *Config, filepath string, emit func(Problem)) {
	text := buf[:len(buf)-1]
	var tokenRules, commentRules, lineRules []*activeRule
	var ids []string
	for _, er := range conf.enabledRules(filepath) {
		ar := &activeRule{r: er.rule, o: er.opts}
		ids = append(ids, er.rule.ID)
		switch er.rule.Type {
		case tokenRule:
			if er.rule.NewState != nil {
				ar.state = er.rule.NewState()
			}
			tokenRules = append(tokenRules, ar)
		case commentRule:
			commentRules = append(commentRules, ar)
		case lineRule:
			lineRules = append(lineRules, ar)
		}
	}
	newDirective := func() *directive { return &directive{rules: map[string]bool{}, all: ids} }
	var cache []Problem
	disabled := newDirective()
	disabledForLine := newDirective()
	disabledForNextLine := newDirective()

	add := func(ps []Problem, ar *activeRule) {
		for _, p := range ps {
			p.Rule = ar.r.ID
			p.Level = ar.o.str("level")
			cache = append(cache, p)
		}
	}
	gen := newTokenGen(buf)
	lines := newLineGen(text)
	item, haveItem := gen.next()
	line, haveLine := lines.next()
	for haveItem || haveLine {
		if !haveItem || (haveLine && item.lineNo > line.LineNo) {
			for _, ar := range lineRules {
				add(ar.r.CheckLine(ar.o, &line), ar)
			}
			for _, p := range cache {
				if !disabledForLine.disabled(p) && !disabled.disabled(p) {
					emit(p)
				}
			}
			disabledForLine = disabledForNextLine
			disabledForNextLine = newDirective()
			cache = cache[:0]
			line, haveLine = lines.next()
			continue
		}
		if item.comment == nil {
			for _, ar := range tokenRules {
				add(ar.r.CheckToken(ar.o, item.tok, ar.state, buf), ar)
			}
		} else {
			c := item.comment
			for _, ar := range commentRules {
				add(ar.r.CheckComment(ar.o, c), ar)
			}
			s := c.String()
			disabled.process(s)
			if c.IsInline() {
				disabledForLine.processLine(s)
			} else {
				disabledForNextLine.processLine(s)
			}
		}
		item, haveItem = gen.next()
	}
}

type lineGen struct {
	text   []rune
	cur    int
	lineNo int
	done   bool
}

func newLineGen(text []rune) *lineGen { return &lineGen{text: text, lineNo: 1} }

func (g *lineGen) next() (Line, bool) {
	if g.done {
		return Line{}, false
	}
	for i := g.cur; i < len(g.text); i++ {
		if g.text[i] == '\n' {
			end := i
			if i > 0 && g.text[i-1] == '\r' {
				end = i - 1
			}
			l := Line{LineNo: g.lineNo, Start: g.cur, End: end, Buffer: g.text}
			g.cur = i + 1
			g.lineNo++
			return l, true
		}
	}
	g.done = true
	return Line{LineNo: g.lineNo, Start: g.cur, End: len(g.text), Buffer: g.text}, true
}

type genItem struct {
	lineNo  int
	tok     tokenArgs
	comment *Comment
}

// tokenGen is yamllint's token_or_comment_generator: it stops silently at
// a scanner error.
type tokenGen struct {
	s       *pyyaml.Scanner
	prev    *pyyaml.Token
	curr    *pyyaml.Token
	queue   []genItem
	stopped bool
}

func newTokenGen(buf []rune) *tokenGen {
	g := &tokenGen{s: pyyaml.NewScannerBuffer(buf)}
	t, err := g.s.GetToken()
	if err != nil {
		g.stopped = true
	}
	g.curr = t
	return g
}

func (g *tokenGen) next() (genItem, bool) {
	if len(g.queue) > 0 {
		it := g.queue[0]
		g.queue = g.queue[1:]
		return it, true
	}
	if g.stopped || g.curr == nil {
		return genItem{}, false
	}
	next, err := g.s.GetToken()
	if err != nil {
		g.stopped = true
		return genItem{}, false
	}
	nextnext, err := g.s.PeekToken()
	if err != nil {
		g.stopped = true
		return genItem{}, false
	}
	curr := g.curr
	item := genItem{lineNo: curr.Start.Line + 1, tok: tokenArgs{token: curr, prev: g.prev, next: next, nextnext: nextnext}}
	g.queue = g.commentsBetween(curr, next, g.queue[:0])
	g.prev = curr
	g.curr = next
	return item, true
}

func (g *tokenGen) commentsBetween(t1, t2 *pyyaml.Token, out []genItem) []genItem {
	buf := g.s.Buffer()
	var seg []rune
	switch {
	case t2 == nil:
		seg = buf[t1.End.Pointer:]
	case t1.End.Line == t2.Start.Line && t1.Kind != pyyaml.StreamStart && t2.Kind != pyyaml.StreamEnd:
		return out
	default:
		seg = buf[t1.End.Pointer:t2.Start.Pointer]
	}
	lineNo := t1.End.Line + 1
	col := t1.End.Column + 1
	pointer := t1.End.Pointer
	var before *Comment
	start := 0
	for i := 0; i <= len(seg); i++ {
		if i < len(seg) && seg[i] != '\n' {
			continue
		}
		line := seg[start:i]
		for pos, r := range line {
			if r == '#' {
				c := &Comment{LineNo: lineNo, ColumnNo: col + pos, Buffer: buf, Pointer: pointer + pos,
					TokenBefore: t1, TokenAfter: t2, CommentBefore: before}
				out = append(out, genItem{lineNo: lineNo, comment: c})
				before = c
				break
			}
		}
		pointer += len(line) + 1
		lineNo++
		col = 1
		start = i + 1
	}
	return out
}
