package yamllint

var ruleTrailingSpaces = &rule{
	ID:   "trailing-spaces",
	Type: lineRule,
	CheckLine: func(_ Options, l *Line) []Problem {
		if l.End == 0 {
			return nil
		}
		buf := l.Buffer
		pos := l.End
		for pos > l.Start && isASCIISpace(buf[pos-1]) {
			pos--
		}
		if pos != l.End && (buf[pos] == ' ' || buf[pos] == '\t') {
			return []Problem{problem(l.LineNo, pos-l.Start+1, "trailing spaces")}
		}
		return nil
	},
}
