package yamllint

import (
	"fmt"

	"github.com/birdflock/runner/pkg/pyyaml"
)

var ruleLineLength = &rule{
	ID:   "line-length",
	Type: lineRule,
	Options: []option{intOpt("max", 80), boolOpt("allow-non-breakable-words", true),
		boolOpt("allow-non-breakable-inline-mappings", false)},
	CheckLine: func(o Options, l *Line) []Problem {
		max := o.int("max")
		if l.End-l.Start <= max {
			return nil
		}
		buf := l.Buffer
		at := func(i int) rune {
			if i < len(buf) {
				return buf[i]
			}
			return 0
		}
		inline := o.bool("allow-non-breakable-inline-mappings")
		if o.bool("allow-non-breakable-words") || inline {
			start := l.Start
			for start < l.End && buf[start] == ' ' {
				start++
			}
			if start != l.End {
				if buf[start] == '#' {
					for at(start) == '#' {
						start++
					}
					start++
				} else if buf[start] == '-' {
					start += 2
				}
				hasSpace := false
				for i := start; i < l.End; i++ {
					if buf[i] == ' ' {
						hasSpace = true
						break
					}
				}
				if !hasSpace {
					return nil
				}
				if inline && checkInlineMapping(l) {
					return nil
				}
			}
		}
		return []Problem{problem(l.LineNo, max+1,
			fmt.Sprintf("line too long (%d > %d characters)", l.End-l.Start, max))}
	},
}

// checkInlineMapping reports a line that is `key: value` whose value has no
// spaces (line_length.check_inline_mapping).
func checkInlineMapping(l *Line) bool {
	content := l.Content()
	s := pyyaml.NewScanner(content)
	for {
		t, err := s.PeekToken()
		if err != nil || t == nil {
			return false
		}
		t, _ = s.GetToken()
		if t.Kind != pyyaml.BlockMappingStart {
			continue
		}
		for {
			t, err := s.PeekToken()
			if err != nil || t == nil {
				return false
			}
			t, _ = s.GetToken()
			if t.Kind == pyyaml.Value {
				v, err := s.GetToken()
				if err != nil {
					return false
				}
				if v != nil && v.Kind == pyyaml.Scalar {
					for _, r := range content[min(v.Start.Column, len(content)):] {
						if r == ' ' {
							return false
						}
					}
					return true
				}
			}
		}
	}
}
