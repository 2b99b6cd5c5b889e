package yamllint

var ruleNewLineAtEndOfFile = &rule{
	ID:   "new-line-at-end-of-file",
	Type: lineRule,
	CheckLine: func(_ Options, l *Line) []Problem {
		if l.End == len(l.Buffer) && l.End > l.Start {
			return []Problem{problem(l.LineNo, l.End-l.Start+1, "no new line character at the end of file")}
		}
		return nil
	},
}
