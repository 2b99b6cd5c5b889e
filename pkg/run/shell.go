package run

import "strings"

// shellArgv turns a shell template ("bash --noprofile {0}", or a custom
// `prog -c "… {0} …"`) into argv for script, as actions/runner does: the
// text up to the first space is the program, the rest an argument string
// split by .NET's rules (double quotes group, backslashes escape quotes;
// single quotes are ordinary). {0} is the script path; without {0} the
// path is appended. Unlike GitHub, {0} is replaced after splitting, so a
// path with spaces stays one argument.
func shellArgv(tmpl, script string) []string {
	prog, args, _ := strings.Cut(tmpl, " ")
	args = strings.TrimLeft(args, " \t")
	list := splitArgs(args)
	found := false
	for i, a := range list {
		if strings.Contains(a, "{0}") {
			list[i] = strings.ReplaceAll(a, "{0}", script)
			found = true
		}
	}
	if !found {
		list = append(list, script)
	}
	return append([]string{prog}, list...)
}

// splitArgs splits a command-line argument string like .NET's
// ParseArgumentsIntoList on Unix.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	inArg, inQuotes := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					inQuotes = !inQuotes
				}
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
			}
			inArg = true
		case c == '"':
			if inQuotes && i+1 < len(s) && s[i+1] == '"' {
				cur.WriteByte('"')
				i++
			} else {
				inQuotes = !inQuotes
			}
			inArg = true
		case (c == ' ' || c == '\t') && !inQuotes:
			if inArg {
				out = append(out, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		out = append(out, cur.String())
	}
	return out
}
