package render

import (
	"fmt"
	"strings"
)

// blockTags open a body that an end tag closes.
var blockTags = map[string]bool{
	"for": true, "if": true, "macro": true, "call": true, "filter": true, "with": true,
	"block": true, "autoescape": true, "trans": true,
}

// checkNesting refuses templates nested deeper than max (block tags, or
// brackets inside one tag) before gonja's recursive parser sees them: too
// deep a recursion overflows the goroutine stack, which no recover catches.
// Jinja2 fails on such input too (Python's recursion limit).
func checkNesting(src string, max int) (line, col int, err error) {
	depth := 0
	line, col = 1, 1
	advance := func(s string) {
		for _, r := range s {
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
	}
	for {
		i := strings.Index(src, "{")
		if i < 0 || i+1 >= len(src) {
			return 0, 0, nil
		}
		advance(src[:i])
		src = src[i:]
		var end string
		switch src[1] {
		case '%':
			end = "%}"
		case '{':
			end = "}}"
		case '#':
			end = "#}"
		default:
			advance(src[:1])
			src = src[1:]
			continue
		}
		startLine, startCol := line, col
		j := strings.Index(src[2:], end)
		if j < 0 {
			return 0, 0, nil // unterminated: the parser reports it
		}
		body := src[2 : 2+j]
		if src[1] != '#' {
			if d := bracketDepth(body); d > max {
				return startLine, startCol, fmt.Errorf("%w: expression nested more than %d levels", ErrTooLarge, max)
			}
		}
		if src[1] == '%' {
			word := strings.Fields(strings.Trim(body, "-+ \t\r\n"))
			if len(word) > 0 {
				w := word[0]
				switch {
				case w == "raw":
					// raw bodies are text: skip to endraw
					k := strings.Index(src, "endraw")
					if k < 0 {
						return 0, 0, nil
					}
					advance(src[:k])
					src = src[k:]
					continue
				case blockTags[w] || (w == "set" && !strings.Contains(body, "=")):
					depth++
					if depth > max {
						return startLine, startCol, fmt.Errorf("%w: blocks nested more than %d levels", ErrTooLarge, max)
					}
				case strings.HasPrefix(w, "end") && depth > 0:
					depth--
				}
			}
		}
		advance(src[:2+j+2])
		src = src[2+j+2:]
	}
}

// bracketDepth is the deepest nesting of (), [] and {} outside quotes.
func bracketDepth(s string) int {
	depth, deepest := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(' || c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ')' || c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}
