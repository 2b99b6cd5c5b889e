package yamllint

var ruleNewLines = &rule{
	ID:   "new-lines",
	Type: lineRule,
	Options: []option{{name: "type", kind: optTuple, choices: []any{"unix", "dos", "platform"},
		repr: "('unix', 'dos', 'platform')", dflt: "unix"}},
	CheckLine: func(o Options, l *Line) []Problem {
		nl, desc := "\n", `\n`
		if o.str("type") == "dos" {
			nl, desc = "\r\n", `\r\n`
		}
		if l.Start == 0 && len(l.Buffer) > l.End {
			end := min(l.End+len(nl), len(l.Buffer))
			if string(l.Buffer[l.End:end]) != nl {
				return []Problem{problem(1, l.End-l.Start+1, "wrong new line character: expected "+desc)}
			}
		}
		return nil
	},
}
