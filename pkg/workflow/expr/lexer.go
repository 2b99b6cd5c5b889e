package expr

import (
	"math"
	"strings"
	"unicode/utf8"
)

// MaxLength is GitHub's limit on the length of one expression.
const MaxLength = 21000

type tokenKind int

const (
	tEOF tokenKind = iota
	tLParen
	tRParen
	tLBracket
	tRBracket
	tComma
	tDot
	tBang
	tNotEqual
	tEqual
	tGreater
	tGreaterEqual
	tLess
	tLessEqual
	tAnd
	tOr
	tStar
	tNumber
	tString
	tIdent
	tTrue
	tFalse
	tNull
)

type token struct {
	kind   tokenKind
	off    int    // byte offset of the lexeme
	lexeme string // source text
	num    float64
	str    string // value of a string literal
}

// text is how error messages show a token.
func (t token) text() string {
	switch t.kind {
	case tEOF:
		return "EOF"
	case tString:
		return t.str
	}
	return t.lexeme
}

type lexer struct {
	src    string
	base   int // offset of src in the text it came from
	pos    int
	tokens []token
}

// lex splits an expression into tokens, the last one tEOF.
// Offsets in tokens and errors are base plus the offset in src.
func lex(src string, base int) ([]token, error) {
	if len(src) > MaxLength {
		return nil, errorf(KindLexing, base, "Exceeded max expression length %d", MaxLength)
	}
	l := &lexer{src: src, base: base, tokens: make([]token, 0, len(src)/3+2)}
	for l.pos < len(src) {
		start := l.pos
		c := src[l.pos]
		l.pos++
		var err error
		switch c {
		case '(':
			l.add(tLParen, start)
		case ')':
			l.add(tRParen, start)
		case '[':
			l.add(tLBracket, start)
		case ']':
			l.add(tRBracket, start)
		case ',':
			l.add(tComma, start)
		case '.':
			switch l.previous() {
			case tIdent, tRBracket, tRParen, tStar:
				l.add(tDot, start)
			default:
				err = l.number(start)
			}
		case '-', '+':
			err = l.number(start)
		case '!':
			if l.match('=') {
				l.add(tNotEqual, start)
			} else {
				l.add(tBang, start)
			}
		case '=':
			if l.match('=') {
				l.add(tEqual, start)
			} else {
				err = l.identifier(start)
			}
		case '<':
			if l.match('=') {
				l.add(tLessEqual, start)
			} else {
				l.add(tLess, start)
			}
		case '>':
			if l.match('=') {
				l.add(tGreaterEqual, start)
			} else {
				l.add(tGreater, start)
			}
		case '&':
			if l.match('&') {
				l.add(tAnd, start)
			} else {
				err = l.identifier(start)
			}
		case '|':
			if l.match('|') {
				l.add(tOr, start)
			} else {
				err = l.identifier(start)
			}
		case '*':
			l.add(tStar, start)
		case ' ', '\t', '\r', '\n':
		case '\'':
			err = l.string(start)
		default:
			if isDigit(c) {
				err = l.number(start)
			} else {
				err = l.identifier(start)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	l.tokens = append(l.tokens, token{kind: tEOF, off: base + len(src)})
	return l.tokens, nil
}

func (l *lexer) add(k tokenKind, start int) {
	l.tokens = append(l.tokens, token{kind: k, off: l.base + start, lexeme: l.src[start:l.pos]})
}

func (l *lexer) previous() tokenKind {
	if len(l.tokens) == 0 {
		return tEOF
	}
	return l.tokens[len(l.tokens)-1].kind
}

func (l *lexer) match(c byte) bool {
	if l.pos < len(l.src) && l.src[l.pos] == c {
		l.pos++
		return true
	}
	return false
}

// boundaryAt reports whether the character at l.pos ends a number or an
// identifier, and its size.
func (l *lexer) boundaryAt() (bool, int) {
	c := l.src[l.pos]
	if c < utf8.RuneSelf {
		switch c {
		case '(', '[', ')', ']', ',', '.', '!', '>', '<', '=', '&', '|':
			return true, 1
		}
		return isJSSpace(rune(c)), 1
	}
	r, size := utf8.DecodeRuneInString(l.src[l.pos:])
	return isJSSpace(r), size
}

func (l *lexer) number(start int) error {
	for l.pos < len(l.src) {
		b, size := l.boundaryAt()
		if b && l.src[l.pos] != '.' {
			break
		}
		l.pos += size
	}
	lexeme := l.src[start:l.pos]
	f := jsNumber(lexeme)
	if math.IsNaN(f) {
		return l.unexpected(start, lexeme)
	}
	l.tokens = append(l.tokens, token{kind: tNumber, off: l.base + start, lexeme: lexeme, num: f})
	return nil
}

func (l *lexer) string(start int) error {
	for {
		if l.pos >= len(l.src) {
			return l.unexpected(start, l.src[start:])
		}
		if l.src[l.pos] == '\'' {
			if l.pos+1 < len(l.src) && l.src[l.pos+1] == '\'' {
				l.pos += 2
				continue
			}
			break
		}
		l.pos++
	}
	l.pos++ // closing quote
	lexeme := l.src[start:l.pos]
	val := lexeme[1 : len(lexeme)-1]
	if strings.Contains(val, "''") {
		val = strings.ReplaceAll(val, "''", "'")
	}
	l.tokens = append(l.tokens, token{kind: tString, off: l.base + start, lexeme: lexeme, str: val})
	return nil
}

func (l *lexer) identifier(start int) error {
	for l.pos < len(l.src) {
		b, size := l.boundaryAt()
		if b {
			break
		}
		l.pos += size
	}
	lexeme := l.src[start:l.pos]
	tok := token{kind: tIdent, off: l.base + start, lexeme: lexeme}
	if l.previous() != tDot {
		switch lexeme {
		case "true":
			tok.kind = tTrue
		case "false":
			tok.kind = tFalse
		case "null":
			tok.kind = tNull
		case "NaN":
			tok.kind, tok.num = tNumber, math.NaN()
		case "Infinity":
			tok.kind, tok.num = tNumber, math.Inf(1)
		}
	}
	if !isIdentifier(lexeme) {
		return l.unexpected(start, lexeme)
	}
	l.tokens = append(l.tokens, tok)
	return nil
}

func (l *lexer) unexpected(start int, lexeme string) error {
	return errorf(KindLexing, l.base+start, "Unexpected symbol: '%s'. Located at position %d within expression: %s",
		lexeme, position(l.src, start), l.src)
}

// position is the 1-based character position GitHub's messages use.
func position(src string, off int) int {
	if off > len(src) {
		off = len(src)
	}
	return utf8.RuneCountInString(src[:off]) + 1
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
