package pyyaml

import (
	"fmt"
	"strings"
)

// MarkedError is PyYAML's MarkedYAMLError (ScannerError, ParserError,
// ComposerError, ConstructorError).
type MarkedError struct {
	Kind        string // "scanner", "parser", "composer", "constructor"
	Context     string
	ContextMark *Mark
	Problem     string
	ProblemMark *Mark
	Note        string
	name        string
	buf         []rune
}

// Error renders the error as PyYAML's str() does, snippets included.
func (e *MarkedError) Error() string {
	var lines []string
	if e.Context != "" {
		lines = append(lines, e.Context)
	}
	if e.ContextMark != nil && (e.Problem == "" || e.ProblemMark == nil ||
		e.ContextMark.Line != e.ProblemMark.Line || e.ContextMark.Column != e.ProblemMark.Column) {
		lines = append(lines, e.markString(*e.ContextMark))
	}
	if e.Problem != "" {
		lines = append(lines, e.Problem)
	}
	if e.ProblemMark != nil {
		lines = append(lines, e.markString(*e.ProblemMark))
	}
	if e.Note != "" {
		lines = append(lines, e.Note)
	}
	return strings.Join(lines, "\n")
}

func (e *MarkedError) markString(m Mark) string {
	name := e.name
	if name == "" {
		name = "<unicode string>"
	}
	where := fmt.Sprintf("  in \"%s\", line %d, column %d", name, m.Line+1, m.Column+1)
	if e.buf != nil {
		where += ":\n" + snippet(e.buf, m.Pointer, 4, 75)
	}
	return where
}

func isSnippetBreak(r rune) bool {
	return r == 0 || r == '\r' || r == '\n' || r == 0x85 || r == 0x2028 || r == 0x2029
}

func snippet(buf []rune, pointer, indent, maxLength int) string {
	head := ""
	start := pointer
	for start > 0 && !isSnippetBreak(buf[start-1]) {
		start--
		if float64(pointer-start) > float64(maxLength)/2-1 {
			head = " ... "
			start += 5
			break
		}
	}
	tail := ""
	end := pointer
	for end < len(buf) && !isSnippetBreak(buf[end]) {
		end++
		if float64(end-pointer) > float64(maxLength)/2-1 {
			tail = " ... "
			end -= 5
			break
		}
	}
	return strings.Repeat(" ", indent) + head + string(buf[start:end]) + tail + "\n" +
		strings.Repeat(" ", indent+pointer-start+len(head)) + "^"
}

// ReaderError is PyYAML's ReaderError for a character YAML does not allow.
type ReaderError struct {
	Position  int // code point offset
	Character rune
}

func (e *ReaderError) Error() string {
	return fmt.Sprintf("unacceptable character #x%04x: special characters are not allowed\n  in \"<unicode string>\", position %d",
		e.Character, e.Position)
}

// Repr renders s as Python's repr() of a str does.
func Repr(s string) string {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for _, r := range s {
		switch {
		case r == quote || r == '\\':
			b.WriteRune('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f:
			b.WriteRune(r)
		case !isPrintable(r):
			switch {
			case r <= 0xff:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r <= 0xffff:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteRune(quote)
	return b.String()
}
