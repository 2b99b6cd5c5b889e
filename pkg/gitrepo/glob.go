package gitrepo

import (
	"fmt"
	"regexp"
	"strings"
)

// Globs matches repository paths against patterns: `*` and `?` stay within
// one path segment, `**` crosses segments (`**/` may match nothing), and a
// pattern also matches everything under the directory it names (`k8s/`,
// `k8s` and `k8s/**` are the same filter).
type Globs struct{ res []*regexp.Regexp }

// CompileGlobs compiles patterns; blank ones are skipped.
func CompileGlobs(patterns []string) (Globs, error) {
	var g Globs
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		re, err := globRegexp(p)
		if err != nil {
			return Globs{}, fmt.Errorf("pattern %q: %w", p, err)
		}
		g.res = append(g.res, re)
	}
	return g, nil
}

// Empty reports whether there is no pattern.
func (g Globs) Empty() bool { return len(g.res) == 0 }

// Match reports whether path matches any pattern.
func (g Globs) Match(path string) bool {
	for _, re := range g.res {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

func globRegexp(p string) (*regexp.Regexp, error) {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "./"), "/")
	p = strings.TrimSuffix(p, "/")
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
					b.WriteString("(?:.*/)?")
				} else {
					b.WriteString(".*")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unterminated [")
			}
			class := p[i+1 : i+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("(?:/.*)?$")
	return regexp.Compile(b.String())
}
