package workflow

import "strings"

// SplitArgs splits with.args of a `docker://` step or a Docker action
// (one without runs.args) into arguments as GitHub's runner ends up
// splitting them: it puts the text on the `docker run` command line, which
// .NET's Process parses with the Windows rules. Blanks (space, tab)
// separate arguments; "…" groups (with "" inside quotes as a literal ");
// backslashes are literal unless they precede a ", where each pair gives
// one backslash and an odd one makes the quote literal. Single quotes are
// ordinary characters, as on GitHub.
func SplitArgs(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			break
		}
		var cur strings.Builder
		inQuotes := false
		for i < len(s) {
			n := 0
			for i < len(s) && s[i] == '\\' {
				i++
				n++
			}
			if n > 0 {
				if i >= len(s) || s[i] != '"' {
					cur.WriteString(strings.Repeat(`\`, n))
				} else {
					cur.WriteString(strings.Repeat(`\`, n/2))
					if n%2 != 0 {
						cur.WriteByte('"')
						i++
					}
				}
				continue
			}
			c := s[i]
			if c == '"' {
				if inQuotes && i+1 < len(s) && s[i+1] == '"' {
					cur.WriteByte('"')
					i++
				} else {
					inQuotes = !inQuotes
				}
				i++
				continue
			}
			if (c == ' ' || c == '\t') && !inQuotes {
				break
			}
			cur.WriteByte(c)
			i++
		}
		out = append(out, cur.String())
	}
	return out
}
