package render

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// bindArgs matches a filter's positional and keyword arguments to its
// Python signature, names in order; missing ones are nil.
func bindArgs(filter string, params *exec.VarArgs, names ...string) ([]*exec.Value, error) {
	out := make([]*exec.Value, len(names))
	if len(params.Args) > len(names) {
		return nil, fmt.Errorf("%s() takes at most %d arguments (%d given)", filter, len(names), len(params.Args))
	}
	copy(out, params.Args)
	for k, v := range params.KwArgs {
		i := 0
		for i < len(names) && names[i] != k {
			i++
		}
		if i == len(names) {
			return nil, fmt.Errorf("%s() got an unexpected keyword argument '%s'", filter, k)
		}
		if out[i] != nil {
			return nil, fmt.Errorf("%s() got multiple values for argument '%s'", filter, k)
		}
		out[i] = v
	}
	return out, nil
}

// filterCenter is Jinja2's center(width=80): Python's str.center, which
// puts the odd space on the left only when the width is odd too.
func filterCenter(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	args, err := bindArgs("center", params, "width")
	if err != nil {
		return exec.AsValue(err)
	}
	width := 80
	if args[0] != nil {
		if !isInt(args[0]) {
			return exec.AsValue(fmt.Errorf("'%s' object cannot be interpreted as an integer", pyTypeName(args[0])))
		}
		width = int(asInt(args[0]))
	}
	s := pyStr(in)
	n := len([]rune(s))
	if width <= n {
		return exec.AsValue(s)
	}
	marg := width - n
	left := marg/2 + (marg & width & 1)
	return exec.AsValue(strings.Repeat(" ", left) + s + strings.Repeat(" ", marg-left))
}

// filterWordwrap is Jinja2's wordwrap(width=79, break_long_words=True,
// wrapstring=None, break_on_hyphens=True): Python's textwrap.wrap of each
// line, joined by wrapstring (default a newline).
func filterWordwrap(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	args, err := bindArgs("wordwrap", params, "width", "break_long_words", "wrapstring", "break_on_hyphens")
	if err != nil {
		return exec.AsValue(err)
	}
	width, breakLong, wrap, hyphens := 79, true, "\n", true
	if args[0] != nil {
		if !isInt(args[0]) {
			return exec.AsValue(fmt.Errorf("'%s' object cannot be interpreted as an integer", pyTypeName(args[0])))
		}
		width = int(asInt(args[0]))
	}
	if width <= 0 {
		return exec.AsValue(fmt.Errorf("invalid width %d (must be > 0)", width))
	}
	if args[1] != nil {
		breakLong = args[1].IsTrue()
	}
	if args[2] != nil && !args[2].IsNil() {
		wrap = pyStr(args[2])
	}
	if args[3] != nil {
		hyphens = args[3].IsTrue()
	}
	var paras []string
	for _, line := range pySplitlines(pyStr(in)) {
		paras = append(paras, strings.Join(textWrap(line, width, breakLong, hyphens), wrap))
	}
	return exec.AsValue(strings.Join(paras, wrap))
}

// pySplitlines is Python's str.splitlines() for the usual line ends.
func pySplitlines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i])
		n := len(string([]rune(s[i:])[0]))
		if strings.HasPrefix(s[i:], "\r\n") {
			n = 2
		}
		s = s[i+n:]
	}
	return out
}

func isPyWS(r rune) bool { return strings.ContainsRune("\t\n\v\f\r ", r) }

func isLetter(r rune) bool { return r == '_' || unicode.IsLetter(r) }

// textChunks splits text like textwrap's wordsep_re: whitespace runs,
// and words, split after a hyphen between letters when hyphens is true.
func textChunks(text string, hyphens bool) [][]rune {
	rs := []rune(text)
	var chunks [][]rune
	for i := 0; i < len(rs); {
		j := i + 1
		ws := isPyWS(rs[i])
		for j < len(rs) && isPyWS(rs[j]) == ws {
			j++
		}
		if ws || !hyphens {
			chunks = append(chunks, rs[i:j])
			i = j
			continue
		}
		at := func(k int) rune {
			if k < i || k >= j {
				return 0
			}
			return rs[k]
		}
		start := i
		for k := i + 1; k < j; k++ {
			if rs[k] != '-' {
				continue
			}
			before := isLetter(at(k-2)) && isLetter(at(k-1)) ||
				isLetter(at(k-3)) && at(k-2) == '-' && isLetter(at(k-1))
			after := isLetter(at(k+1)) && (isLetter(at(k+2)) || at(k+2) == '-' && isLetter(at(k+3)))
			if before && after {
				chunks = append(chunks, rs[start:k+1])
				start = k + 1
			}
		}
		chunks = append(chunks, rs[start:j])
		i = j
	}
	return chunks
}

func isBlank(c []rune) bool { return strings.TrimFunc(string(c), isPyWS) == "" }

// textWrap is textwrap.wrap(expand_tabs=False, replace_whitespace=False).
func textWrap(text string, width int, breakLong, hyphens bool) []string {
	chunks := textChunks(text, hyphens)
	var lines []string
	for len(chunks) > 0 {
		var cur [][]rune
		curLen := 0
		if len(lines) > 0 && isBlank(chunks[0]) {
			chunks = chunks[1:]
		}
		for len(chunks) > 0 && curLen+len(chunks[0]) <= width {
			cur = append(cur, chunks[0])
			curLen += len(chunks[0])
			chunks = chunks[1:]
		}
		if len(chunks) > 0 && len(chunks[0]) > width {
			// textwrap's _handle_long_word
			left := width - curLen
			if breakLong {
				end := left
				c := chunks[0]
				if hyphens && len(c) > left {
					h := -1
					for k := left - 1; k >= 0; k-- {
						if c[k] == '-' {
							h = k
							break
						}
					}
					if h > 0 && strings.Trim(string(c[:h]), "-") != "" {
						end = h + 1
					}
				}
				cur = append(cur, c[:end])
				chunks[0] = c[end:]
			} else if len(cur) == 0 {
				cur = append(cur, chunks[0])
				chunks = chunks[1:]
			}
		}
		if len(cur) > 0 && isBlank(cur[len(cur)-1]) {
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			var b strings.Builder
			for _, c := range cur {
				b.WriteString(string(c))
			}
			lines = append(lines, b.String())
		}
	}
	return lines
}
