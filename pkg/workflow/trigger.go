package workflow

import (
	"regexp"
	"strings"
)

// Matches reports whether a push of ref (refs/heads/X or refs/tags/X) that
// changed changedFiles triggers the workflow, with GitHub's filter rules:
// defining only branch filters skips tag pushes and vice versa; patterns
// apply in order and a "!" pattern excludes what earlier ones included;
// paths filters are not evaluated for tags. A nil filter matches every
// push. An empty changedFiles means "not known" (GitHub's rule for diffs it
// cannot compute): the paths filters then pass.
func (f *PushFilter) Matches(ref string, changedFiles []string) bool {
	if f == nil {
		return true
	}
	branchSet := len(f.Branches) > 0 || len(f.BranchesIgnore) > 0
	tagSet := len(f.Tags) > 0 || len(f.TagsIgnore) > 0
	switch {
	case strings.HasPrefix(ref, "refs/tags/"):
		name := strings.TrimPrefix(ref, "refs/tags/")
		if branchSet && !tagSet {
			return false
		}
		if len(f.Tags) > 0 && !matchList(f.Tags, name) {
			return false
		}
		if len(f.TagsIgnore) > 0 && matchList(f.TagsIgnore, name) {
			return false
		}
		return true
	default:
		name := strings.TrimPrefix(ref, "refs/heads/")
		if tagSet && !branchSet {
			return false
		}
		if len(f.Branches) > 0 && !matchList(f.Branches, name) {
			return false
		}
		if len(f.BranchesIgnore) > 0 && matchList(f.BranchesIgnore, name) {
			return false
		}
	}
	if len(changedFiles) == 0 {
		return true
	}
	if len(f.Paths) > 0 {
		any := false
		for _, file := range changedFiles {
			if matchList(f.Paths, file) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	if len(f.PathsIgnore) > 0 {
		for _, file := range changedFiles {
			if !matchList(f.PathsIgnore, file) {
				return true
			}
		}
		return false
	}
	return true
}

// matchList applies patterns in order: the last pattern that matches name
// decides, and a "!" pattern excludes.
func matchList(patterns []Value, name string) bool {
	matched := false
	for _, p := range patterns {
		pat, neg := p.Raw, false
		if strings.HasPrefix(pat, "!") {
			pat, neg = pat[1:], true
		}
		if MatchFilter(pat, name) {
			matched = !neg
		}
	}
	return matched
}

// MatchFilter matches name against one GitHub filter pattern: * (no slash),
// ** (anything), ? and + (zero-or-one and one-or-more of the preceding
// character), [] (a character set or range), \ (escape). An invalid
// pattern matches nothing.
func MatchFilter(pattern, name string) bool {
	re, err := filterRegexp(pattern)
	if err != nil {
		return false
	}
	return re.MatchString(name)
}

func filterRegexp(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	atom := false // something precedes that ? or + can repeat
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '*' && strings.HasPrefix(pattern[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
			atom = false
		case c == '*' && strings.HasPrefix(pattern[i:], "**"):
			b.WriteString(".*")
			i++
			atom = false
		case c == '*':
			b.WriteString("[^/]*")
			atom = false
		case (c == '?' || c == '+') && atom:
			b.WriteByte(c)
			atom = false
		case c == '[':
			end := strings.IndexByte(pattern[i+1:], ']')
			if end < 0 {
				b.WriteString(regexp.QuoteMeta("["))
				atom = true
				continue
			}
			set := pattern[i+1 : i+1+end]
			b.WriteString("[" + strings.ReplaceAll(set, `\`, `\\`) + "]")
			i += end + 1
			atom = true
		case c == '\\' && i+1 < len(pattern):
			i++
			b.WriteString(regexp.QuoteMeta(string(pattern[i])))
			atom = true
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
			atom = true
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
