package render

import (
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// gonja's lexer ends a string literal at the first quote not preceded by a
// backslash ('a\\' never ends) and decodes only \' and \". escapeLiterals
// hands gonja every literal with a backslash as a marker plus the hex of
// its Python-decoded value; the rewrite turns it back (literalValue).
// Integer literals past int64, which gonja's parser refuses, become such a
// string literal too, with bigIntMarker and their decimal digits.
// Columns after such a literal on its line shift in error messages.

const literalMarker = "\x01runner-str:"

// escapeLiterals rewrites the string literals with backslashes inside the
// tags of src, the inner whitespace control of raw blocks and the scoped
// modifier of blocks. Text, comments and raw bodies stay as they are.
func escapeLiterals(src []byte) []byte {
	s := string(src)
	if !strings.Contains(s, `\`) && !strings.Contains(s, "raw") && !strings.Contains(s, "scoped") && !longNumber.MatchString(s) ||
		strings.Contains(s, "\x01") {
		return src
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{")
		if i < 0 || i+1 >= len(s) {
			break
		}
		open := s[i+1]
		if open != '{' && open != '%' && open != '#' {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i+2])
		s = s[i+2:]
		if open == '#' {
			j := strings.Index(s, "#}")
			if j < 0 {
				break
			}
			b.WriteString(s[:j+2])
			s = s[j+2:]
			continue
		}
		end := "}}"
		if open == '%' {
			end = "%}"
			if w := strings.Fields(strings.TrimLeft(s, "-+ \t\r\n")); len(w) > 0 && strings.TrimRight(w[0], "-+%}") == "raw" {
				rest, ok := rawBlock(&b, s)
				if !ok {
					break
				}
				s = rest
				continue
			}
			if j := strings.Index(s, "%}"); j > 0 {
				if m := scopedBlock.FindStringSubmatchIndex(s[:j]); m != nil {
					// gonja has no scoped blocks; its blocks see the loop
					// variables anyway
					s = s[:m[2]] + strings.Repeat(" ", m[3]-m[2]) + s[m[3]:]
				}
			}
		}
		// inside a tag: copy up to its end, rewriting literals
		prev := byte(0)
		for len(s) > 0 && !strings.HasPrefix(s, end) {
			c := s[0]
			if c >= '0' && c <= '9' && !isNameByte(prev) && prev != '.' {
				n, big := scanBigInt(s)
				if big != nil {
					b.WriteString("'" + bigIntMarker + big.String() + "'")
				} else {
					b.WriteString(s[:n])
				}
				prev, s = s[n-1], s[n:]
				continue
			}
			prev = c
			if c != '\'' && c != '"' {
				b.WriteByte(c)
				s = s[1:]
				continue
			}
			j := 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) { // unterminated: the parser reports it
				b.WriteString(s)
				return []byte(b.String())
			}
			lit := s[:j+1]
			if strings.Contains(lit, `\`) {
				lit = "'" + literalMarker + hex.EncodeToString([]byte(pyUnescape(lit[1:j]))) + "'"
			}
			b.WriteString(lit)
			s = s[j+1:]
		}
	}
	b.WriteString(s)
	return []byte(b.String())
}

// longNumber finds the digit runs that may be integer literals past int64.
var longNumber = regexp.MustCompile(`[0-9][0-9a-fA-FxXoObB_]{15,}`)

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

var scopedBlock = regexp.MustCompile(`^[-+]?\s*block\s+\w+\s+(scoped)\s*[-+]?$`)

var endRaw = regexp.MustCompile(`\{%([-+]?)\s*endraw\s*([-+]?)%\}`)

// rawBlock copies a raw block from s, just after its "{%", and applies the
// whitespace control of its inner sides ({% raw -%}, {%- endraw %}), which
// gonja ignores. The whitespace taken out goes into a comment after the
// block, so that line numbers stay right.
func rawBlock(b *strings.Builder, s string) (string, bool) {
	k := strings.Index(s, "%}")
	loc := endRaw.FindStringSubmatchIndex(s)
	if k < 0 || loc == nil || loc[0] < k {
		return s, false
	}
	open, body, end := s[:k+2], s[k+2:loc[0]], s[loc[0]:loc[1]]
	var cut string
	if strings.HasSuffix(open, "-%}") {
		t := strings.TrimLeft(body, " \t\n\r\f\v")
		cut, body = body[:len(body)-len(t)], t
	}
	if loc[2] < loc[3] && s[loc[2]] == '-' {
		t := strings.TrimRight(body, " \t\n\r\f\v")
		cut, body = cut+body[len(t):], t
	}
	b.WriteString(open + body + end)
	if n := strings.Count(cut, "\n"); n > 0 {
		closing := "#}"
		if loc[4] < loc[5] && s[loc[4]] == '-' {
			closing = "-#}"
		}
		b.WriteString("{#" + strings.Repeat("\n", n) + closing)
	}
	return s[loc[1]:], true
}

// literalValue decodes a literal escapeLiterals rewrote.
func literalValue(v string) (string, bool) {
	h, ok := strings.CutPrefix(v, literalMarker)
	if !ok {
		return "", false
	}
	d, err := hex.DecodeString(h)
	if err != nil {
		return "", false
	}
	return string(d), true
}

// pyUnescape decodes backslash escapes as Jinja2 does (Python's
// unicode-escape codec); unknown escapes keep their backslash.
func pyUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\n':
			// a line continuation
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if r, err := strconv.ParseUint(s[i+1:min(i+1+n, len(s))], 16, 32); err == nil && i+n < len(s) && utf8.ValidRune(rune(r)) {
				b.WriteRune(rune(r))
				i += n
			} else {
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		default:
			if e >= '0' && e <= '7' {
				j := i
				for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
					j++
				}
				r, _ := strconv.ParseUint(s[i:j], 8, 32)
				b.WriteRune(rune(r))
				i = j - 1
				continue
			}
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String()
}
