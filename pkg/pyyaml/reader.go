package pyyaml

import (
	"unicode"
)

func isPrintable(r rune) bool { return unicode.IsPrint(r) }

// allowedRune reports whether PyYAML's reader accepts r:
// [\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff].
func allowedRune(r rune) bool {
	switch {
	case r == 0x09 || r == 0x0A || r == 0x0D:
		return true
	case r >= 0x20 && r <= 0x7E:
		return true
	case r == 0x85:
		return true
	case r >= 0xA0 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// CheckPrintable returns a *ReaderError for the first character PyYAML's
// reader rejects, or nil.
func CheckPrintable(text []rune) error {
	for i, r := range text {
		if !allowedRune(r) {
			return &ReaderError{Position: i, Character: r}
		}
	}
	return nil
}

// reader holds the input as code points followed by a NUL, like PyYAML's
// Reader given a str.
type reader struct {
	buf     []rune
	pointer int
	line    int
	column  int
}

func (r *reader) peek(i int) rune {
	if p := r.pointer + i; p < len(r.buf) {
		return r.buf[p]
	}
	return 0
}

func (r *reader) prefix(n int) []rune {
	end := r.pointer + n
	if end > len(r.buf) {
		end = len(r.buf)
	}
	return r.buf[r.pointer:end]
}

func (r *reader) prefixIs(s string) bool {
	i := 0
	for _, c := range s {
		if r.peek(i) != c {
			return false
		}
		i++
	}
	return true
}

func (r *reader) forward(n int) {
	for ; n > 0; n-- {
		if r.pointer >= len(r.buf) {
			return
		}
		ch := r.buf[r.pointer]
		r.pointer++
		if ch == '\n' || ch == 0x85 || ch == 0x2028 || ch == 0x2029 ||
			(ch == '\r' && r.peek(0) != '\n') {
			r.line++
			r.column = 0
		} else if ch != 0xFEFF {
			r.column++
		}
	}
}

func (r *reader) mark() Mark { return Mark{Line: r.line, Column: r.column, Pointer: r.pointer} }

// Character classes of the scanner.
func isBreakz(c rune) bool { // '\0\r\n\x85\u2028\u2029'
	return c == 0 || c == '\r' || c == '\n' || c == 0x85 || c == 0x2028 || c == 0x2029
}
func isBreak(c rune) bool { // '\r\n\x85\u2028\u2029'
	return c == '\r' || c == '\n' || c == 0x85 || c == 0x2028 || c == 0x2029
}
func isBlankz(c rune) bool { // '\0 \t\r\n\x85\u2028\u2029'
	return c == ' ' || c == '\t' || isBreakz(c)
}
func isSpacez(c rune) bool { // '\0 \r\n\x85\u2028\u2029'
	return c == ' ' || isBreakz(c)
}
func isAlnum(c rune) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '-' || c == '_'
}
func isHex(c rune) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f'
}
