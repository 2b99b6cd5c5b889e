package workflow

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"gopkg.in/yaml.v3"
)

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns yaml.v3's errors ("yaml: line 3: ...") into positioned
// ones. yaml.v3 gives no column, and its line is sometimes that of the
// enclosing mapping: the position is then goccy/go-yaml's, whose syntax
// errors point at the offending token (with its message when the lines
// differ), else the first character of yaml.v3's line.
func (p *parser) yamlError(err error, data []byte) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	lines := bytes.Split(data, []byte("\n"))
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		pos := Pos{1, 1}
		if sm := yamlLine.FindStringSubmatch("yaml: " + m); sm != nil {
			pos.Line, _ = strconv.Atoi(sm[1])
			m = sm[2]
			if pos.Line <= len(lines) {
				line := lines[pos.Line-1]
				pos.Col = utf8.RuneCount(line) - utf8.RuneCount(bytes.TrimLeft(line, " ")) + 1
			}
			if te == nil {
				if gpos, gmsg, ok := goccyError(data); ok {
					if gpos.Line != pos.Line {
						m = gmsg
					}
					pos = gpos
				}
			}
		}
		if am := unknownAnchor.FindStringSubmatch(m); am != nil && pos.Line == 1 && pos.Col == 1 {
			if i := bytes.Index(data, []byte("*"+am[1])); i >= 0 {
				pos = offsetInData(data, i)
			}
		}
		p.errf(pos, "syntax", "%s", m)
	}
}

var mappingColon = regexp.MustCompile(`:(\s|$)`)

var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// offsetInData is the position of a byte offset in the file.
func offsetInData(data []byte, off int) Pos {
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return Pos{line, utf8.RuneCount(before[start:]) + 1}
}

// dataOffset is the byte offset of a position in the file, or -1.
func dataOffset(data []byte, pos Pos) int {
	off := 0
	for l := 1; l < pos.Line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	for c := 1; c < pos.Col; c++ {
		_, size := utf8.DecodeRune(data[off:])
		if size == 0 {
			return -1
		}
		off += size
	}
	return off
}

// maxGoccyDepth bounds the flow nesting ([ and {) of a document handed to
// goccy/go-yaml, whose memory grows much faster than the depth (100,000
// levels took 15 GB).
const maxGoccyDepth = 1000

// goccyError is where goccy/go-yaml's parser finds a syntax error. A
// panic in it only loses the column.
func goccyError(data []byte) (pos Pos, msg string, ok bool) {
	defer func() {
		if recover() != nil {
			pos, msg, ok = Pos{}, "", false
		}
	}()
	depth := 0
	for _, c := range data {
		switch c {
		case '[', '{':
			if depth++; depth > maxGoccyDepth {
				return Pos{}, "", false
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	_, err := goccyparser.ParseBytes(data, 0)
	var se *goccy.SyntaxError
	if !errors.As(err, &se) || se.Token == nil || se.Token.Position == nil || se.Token.Position.Line < 1 || se.Token.Position.Column < 1 {
		return Pos{}, "", false
	}
	msg = se.Message
	if msg != "" {
		msg = strings.ToLower(msg[:1]) + msg[1:]
	}
	pos = Pos{se.Token.Position.Line, se.Token.Position.Column}
	// goccy points at the scalar before a misplaced ": ": point at it.
	if strings.Contains(msg, "mapping value is not allowed") {
		if off := dataOffset(data, pos); off >= 0 {
			if m := mappingColon.FindIndex(data[off:]); m != nil {
				pos = offsetInData(data, off+m[0])
			}
		}
	}
	return pos, msg, true
}
