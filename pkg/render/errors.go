package render

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
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
	filterRE    = regexp.MustCompile(`unable to evaluate filter &\{<Token.*?\}: `)
	undefinedRE = regexp.MustCompile(`Unable to evaluate name "([^"]*)"`)
	// the left side of and/or, as the rewrite wraps it (see truthy)
	truthyRE   = regexp.MustCompile(`call\(\[(.*?)\], map\[\]\): unable to evaluate parameters: `)
	markerRE   = regexp.MustCompile("\x00at (.*?):(\\d+):(\\d+)\x00")
	posInMsgRE = regexp.MustCompile(` ?, got <Token\[Error\] Val='([^']*)' Pos=\d+ Line=\d+ Col=\d+>`)
	tokenPosRE = regexp.MustCompile(`Pos=(\d+) Line=0 Col=0`)
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
		line, col := se.Line, se.Column
		if line == 0 && source != "" {
			line, col = lexerErrorPos(source, se)
		}
		msg := posInMsgRE.ReplaceAllString(se.Message, "")
		return &Error{File: file, Line: line, Col: col, Msg: "syntax error: " + msg, Err: err}
	}
	msg := err.Error()
	if source != "" {
		msg = strings.ReplaceAll(msg, "'"+source+"'", "")
	}
	if m := markerRE.FindStringSubmatchIndex(msg); m != nil {
		// an output expression placed it (see placeError)
		f := msg[m[2]:m[3]]
		line, _ := strconv.Atoi(msg[m[4]:m[5]])
		col, _ := strconv.Atoi(msg[m[6]:m[7]])
		return &Error{File: f, Line: line, Col: col, Msg: cleanMessage(msg[m[1]:]), Err: withSentinel(msg, err)}
	}
	line := 0
	if m := atLineRE.FindAllStringSubmatch(msg, -1); len(m) > 0 {
		line, _ = strconv.Atoi(m[len(m)-1][1])
	}
	return &Error{File: file, Line: line, Col: cols[line], Msg: cleanMessage(msg), Err: withSentinel(msg, err)}
}

// withSentinel lets errors.Is find our sentinels again: gonja stringifies
// errors on the way up.
func withSentinel(msg string, err error) error {
	for _, s := range []error{ErrRecursion, ErrTooLarge, ErrOutputTooLarge} {
		if strings.Contains(msg, s.Error()) {
			return errors.Join(s, err)
		}
	}
	return err
}

// placeError marks the error of an output expression with the place the
// rewrite passed (file, line, col), unless an inner expression (a macro's
// output) marked it already. The mark is text because gonja keeps only
// the text of errors.
func placeError(in *exec.Value, params *exec.VarArgs) *exec.Value {
	msg := in.Error()
	if len(params.Args) != 3 || strings.Contains(msg, "\x00at ") {
		return in
	}
	return exec.AsValue(fmt.Errorf("\x00at %s:%d:%d\x00%s", params.Args[0].String(), params.Args[1].Integer(), params.Args[2].Integer(), msg))
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
	msg = truthyRE.ReplaceAllString(msg, "$1: ")
	msg = helperRE.ReplaceAllString(msg, "")
	msg = filterRE.ReplaceAllString(msg, "")
	for _, p := range noisePrefixes {
		msg = strings.TrimPrefix(msg, p)
	}
	msg = undefinedRE.ReplaceAllString(msg, "'$1' is undefined")
	return strings.TrimSpace(msg)
}

// lexerErrorPos places a syntax error that gonja's lexer left at 0:0 (an
// unterminated string or comment): from the token's byte offset when the
// message has it, else from where the offending text first appears.
func lexerErrorPos(source string, se *parser.SyntaxError) (line, col int) {
	if m := tokenPosRE.FindStringSubmatch(se.Message); m != nil {
		if off, err := strconv.Atoi(m[1]); err == nil {
			return offsetPos([]byte(source), int64(off))
		}
	}
	if se.Raw != "" {
		if i := strings.Index(source, se.Raw); i >= 0 {
			return offsetPos([]byte(source), int64(i))
		}
	}
	return 0, 0
}
