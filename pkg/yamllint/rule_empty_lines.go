package yamllint

import "fmt"

var ruleEmptyLines = &rule{
	ID:      "empty-lines",
	Type:    lineRule,
	Options: []option{intOpt("max", 2), intOpt("max-start", 0), intOpt("max-end", 0)},
	CheckLine: func(o Options, l *Line) []Problem {
		buf := l.Buffer
		n := len(buf)
		if !(l.Start == l.End && l.End < n) {
			return nil
		}
		has := func(at int, s string) bool {
			r := []rune(s)
			if at+len(r) > n {
				return false
			}
			for i, c := range r {
				if buf[at+i] != c {
					return false
				}
			}
			return true
		}
		// only alert on the last blank line of a series
		if has(l.End, "\n\n") || has(l.End, "\r\n\r\n") {
			return nil
		}
		blank := 0
		start := l.Start
		for start >= 2 && buf[start-2] == '\r' && buf[start-1] == '\n' {
			blank++
			start -= 2
		}
		for start >= 1 && buf[start-1] == '\n' {
			blank++
			start--
		}
		max := o.int("max")
		if start == 0 {
			blank++ // the first line has no preceding \n
			max = o.int("max-start")
		}
		if (l.End == n-1 && buf[l.End] == '\n') || (l.End == n-2 && has(l.End, "\r\n")) {
			if l.End == 0 { // the one-byte file "\n"
				return nil
			}
			max = o.int("max-end")
		}
		if blank > max {
			return []Problem{problem(l.LineNo, 1, fmt.Sprintf("too many blank lines (%d > %d)", blank, max))}
		}
		return nil
	},
}
