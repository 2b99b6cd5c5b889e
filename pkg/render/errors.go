package render

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/parser"
)

// Sentinels for the bad-input guards; match them with errors.Is.
var (
	ErrRecursion      = errors.New("recursion limit reached")
	ErrTooLarge       = errors.New("input too large")
	ErrBinary         = errors.New("not a text file")
	ErrOutputTooLarge = errors.New("output too large")
	ErrEngine         = errors.New("template engine failure")
)

// Error is a template error with its place: File is the template that
// failed (an included one when the failure is inside an include); Line and
// Col are 1-based, 0 when unknown.
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

var (
	atLineRE    = regexp.MustCompile(`at line (\d+)`)
	helperRE    = regexp.MustCompile(`^invalid call to function '__runner_\w+': `)
	undefinedRE = regexp.MustCompile(`Unable to evaluate name "([^"]*)"`)
)

// gonja's messages repeat the failing node; these prefixes carry no
// information once the place is known.
var noisePrefixes = []string{
	"unable to execute template: ",
	"Unable to execute controlStructure ",
	"Unable to render expression ",
	"Unable to render condition ",
	"unable to evaluate parameters: ",
}

// toError turns a gonja error for template file into an *Error. cols maps a
// line to the column of its first tag, since gonja's runtime errors carry
// only the line. source is stripped from the message: gonja quotes the
// whole template text in parse errors.
func toError(file, source string, cols map[int]int, err error) error {
	var re *Error
	if errors.As(err, &re) {
		return re // already placed (an include, a guard)
	}
	var se *parser.SyntaxError
	if errors.As(err, &se) {
		return &Error{File: file, Line: se.Line, Col: se.Column, Msg: "syntax error: " + se.Message, Err: err}
	}
	msg := err.Error()
	if source != "" {
		msg = strings.ReplaceAll(msg, "'"+source+"'", "")
	}
	line := 0
	if m := atLineRE.FindAllStringSubmatch(msg, -1); len(m) > 0 {
		line, _ = strconv.Atoi(m[len(m)-1][1])
	}
	// gonja stringifies errors on the way up: find our sentinels by text
	for _, s := range []error{ErrRecursion, ErrTooLarge, ErrOutputTooLarge} {
		if strings.Contains(msg, s.Error()) {
			err = errors.Join(s, err)
			break
		}
	}
	return &Error{File: file, Line: line, Col: cols[line], Msg: cleanMessage(msg), Err: err}
}

// cleanMessage keeps the innermost cause of a gonja error chain: the text
// after the last "at line N: <node>: " part.
func cleanMessage(msg string) string {
	if i := strings.LastIndex(msg, "at line "); i >= 0 {
		rest := msg[i:]
		// skip "at line N: " and the node description up to the next ": "
		if j := strings.Index(rest, ": "); j >= 0 {
			rest = rest[j+2:]
			if k := strings.Index(rest, ": "); k >= 0 && k+2 < len(rest) {
				rest = rest[k+2:]
			}
			msg = rest
		}
	}
	// the printing filter the rewrite adds is an implementation detail
	if i := strings.LastIndex(msg, "'"+filterStr+"': "); i >= 0 {
		msg = msg[i+len(filterStr)+4:]
	}
	msg = helperRE.ReplaceAllString(msg, "")
	for _, p := range noisePrefixes {
		msg = strings.TrimPrefix(msg, p)
	}
	msg = undefinedRE.ReplaceAllString(msg, "'$1' is undefined")
	return strings.TrimSpace(msg)
}
