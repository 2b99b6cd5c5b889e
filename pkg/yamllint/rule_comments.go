package yamllint

var ruleComments = &rule{
	ID:   "comments",
	Type: commentRule,
	Options: []option{boolOpt("require-starting-space", true), boolOpt("ignore-shebangs", true),
		intOpt("min-spaces-from-content", 2)},
	CheckComment: func(o Options, c *Comment) []Problem {
		var ps []Problem
		if min := o.int("min-spaces-from-content"); min != -1 && c.IsInline() &&
			c.Pointer-c.TokenBefore.End.Pointer < min {
			ps = append(ps, problem(c.LineNo, c.ColumnNo, "too few spaces before comment"))
		}
		if o.bool("require-starting-space") {
			buf := c.Buffer
			start := c.Pointer + 1
			for start < len(buf) && buf[start] == '#' {
				start++
			}
			if start < len(buf) {
				if o.bool("ignore-shebangs") && c.LineNo == 1 && c.ColumnNo == 1 && buf[start] == '!' {
					return ps
				}
				switch buf[start] {
				case ' ', '\n', '\r', 0:
				default:
					ps = append(ps, problem(c.LineNo, c.ColumnNo+start-c.Pointer, "missing starting space in comment"))
				}
			}
		}
		return ps
	},
}
