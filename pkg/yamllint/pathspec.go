package yamllint

import (
	"fmt"
	"regexp"
	"strings"
)

// PathSpec is pathspec's gitwildmatch PathSpec, as yamllint uses it for
// `ignore` and `yaml-files`.
type PathSpec struct {
	patterns []wildPattern
}

type wildPattern struct {
	re      *regexp.Regexp
	include bool
}

// NewPathSpec compiles gitignore-style lines.
func NewPathSpec(lines []string) (*PathSpec, error) {
	ps := &PathSpec{}
	for _, l := range lines {
		re, include, ok, err := wildToRegex(l)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		c, err := regexp.Compile(re)
		if err != nil {
			return nil, fmt.Errorf("invalid git pattern: %q: %w", l, err)
		}
		ps.patterns = append(ps.patterns, wildPattern{re: c, include: include})
	}
	return ps, nil
}

// Match reports whether file matches; the last matching pattern wins.
func (ps *PathSpec) Match(file string) bool {
	if ps == nil {
		return false
	}
	if strings.HasPrefix(file, "/") {
		file = file[1:]
	} else if strings.HasPrefix(file, "./") {
		file = file[2:]
	}
	matched := false
	for _, p := range ps.patterns {
		if p.re.MatchString(file) {
			matched = p.include
		}
	}
	return matched
}

func wildToRegex(pattern string) (string, bool, bool, error) {
	original := pattern
	pattern = strings.TrimFunc(pattern, isPySpace)
	if strings.HasPrefix(pattern, "#") || pattern == "/" || pattern == "" {
		return "", false, false, nil
	}
	include := true
	if strings.HasPrefix(pattern, "!") {
		include = false
		pattern = pattern[1:]
	}
	segs := strings.Split(pattern, "/")
	for i := len(segs) - 1; i > 0; i-- {
		if segs[i-1] == "**" && segs[i] == "**" {
			segs = append(segs[:i], segs[i+1:]...)
		}
	}
	override := ""
	if len(segs) == 2 && segs[0] == "**" && segs[1] == "" {
		override = `^.+(?P<ps_d>/).*$`
	}
	if segs[0] == "" {
		segs = segs[1:]
	} else if len(segs) == 1 || (len(segs) == 2 && segs[1] == "") {
		if segs[0] != "**" {
			segs = append([]string{"**"}, segs...)
		}
	}
	if len(segs) == 0 {
		return "", false, false, fmt.Errorf("invalid git pattern: %q", original)
	}
	if segs[len(segs)-1] == "" && len(segs) > 1 {
		segs[len(segs)-1] = "**"
	}
	if override != "" {
		return override, include, true, nil
	}
	var out strings.Builder
	out.WriteString("^")
	needSlash := false
	end := len(segs) - 1
	for i, seg := range segs {
		switch {
		case seg == "**":
			switch {
			case i == 0 && i == end:
				out.WriteString(`[^/]+(?:(?P<ps_d>/).*)?`)
			case i == 0:
				out.WriteString(`(?:.+/)?`)
				needSlash = false
			case i == end:
				out.WriteString(`(?P<ps_d>/).*`)
			default:
				out.WriteString(`(?:/.+)?`)
				needSlash = true
			}
		case seg == "*":
			if needSlash {
				out.WriteString("/")
			}
			out.WriteString(`[^/]+`)
			if i == end {
				out.WriteString(`(?:(?P<ps_d>/).*)?`)
			}
			needSlash = true
		default:
			if needSlash {
				out.WriteString("/")
			}
			g, err := translateSegmentGlob(seg)
			if err != nil {
				return "", false, false, fmt.Errorf("invalid git pattern: %q", original)
			}
			out.WriteString(g)
			if i == end {
				out.WriteString(`(?:(?P<ps_d>/).*)?`)
			}
			needSlash = true
		}
	}
	out.WriteString("$")
	return out.String(), include, true, nil
}

func translateSegmentGlob(pattern string) (string, error) {
	p := []rune(pattern)
	escape := false
	var re strings.Builder
	i, end := 0, len(p)
	for i < end {
		c := p[i]
		i++
		switch {
		case escape:
			escape = false
			re.WriteString(regexp.QuoteMeta(string(c)))
		case c == '\\':
			escape = true
		case c == '*':
			re.WriteString(`[^/]*`)
		case c == '?':
			re.WriteString(`[^/]`)
		case c == '[':
			j := i
			if j < end && p[j] == '!' {
				j++
			}
			if j < end && p[j] == ']' {
				j++
			}
			for j < end && p[j] != ']' {
				j++
			}
			if j < end {
				j++
				expr := "["
				if p[i] == '!' {
					expr += "^"
					i++
				} else if p[i] == '^' {
					expr += `\^`
					i++
				}
				expr += strings.ReplaceAll(string(p[i:j]), `\`, `\\`)
				re.WriteString(expr)
				i = j
			} else {
				re.WriteString(`\[`)
			}
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if escape {
		return "", fmt.Errorf("escape character found with no next character to escape: %q", pattern)
	}
	return re.String(), nil
}

// isPySpace is Python's str.isspace for one character.
func isPySpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, ' ', 0x85, 0xa0, 0x1680,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}
