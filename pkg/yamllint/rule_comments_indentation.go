package yamllint

import "github.com/birdflock/runner/pkg/pyyaml"

var ruleCommentsIndentation = &rule{
	ID:   "comments-indentation",
	Type: commentRule,
	CheckComment: func(_ Options, c *Comment) []Problem {
		tb := c.TokenBefore
		if tb.Kind != pyyaml.StreamStart && tb.End.Line+1 == c.LineNo {
			return nil // only block comments
		}
		next := 0
		if c.TokenAfter != nil {
			next = c.TokenAfter.Start.Column
			if c.TokenAfter.Kind == pyyaml.StreamEnd {
				next = 0
			}
		}
		prev := 0
		if tb.Kind != pyyaml.StreamStart {
			prev = lineIndent(tb, c.Buffer)
		}
		prev = max(prev, next)
		if c.CommentBefore != nil && !c.CommentBefore.IsInline() {
			prev = c.CommentBefore.ColumnNo - 1
		}
		if c.ColumnNo-1 != prev && c.ColumnNo-1 != next {
			return []Problem{problem(c.LineNo, c.ColumnNo, "comment not indented like content")}
		}
		return nil
	},
}
