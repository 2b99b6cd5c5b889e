package render

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// --- str methods: a copy of gonja's with Python's optional count in replace.

var pyStrMethodNames = strings.Fields(`capitalize casefold center count encode endswith
	expandtabs find format format_map index isalnum isalpha isascii isdecimal isdigit
	isidentifier islower isnumeric isprintable isspace istitle isupper join ljust lower
	lstrip maketrans partition removeprefix removesuffix replace rfind rindex rjust
	rpartition rsplit rstrip split splitlines startswith strip swapcase title translate
	upper zfill`)

func strMethods() *exec.MethodSet[string] {
	m := map[string]exec.Method[string]{}
	for _, name := range pyStrMethodNames {
		if fn, ok := builtins.Methods.Str.Get(name); ok {
			m[name] = fn
		}
	}
	m["replace"] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) < 2 || len(args.Args) > 3 {
			return nil, exec.ErrInvalidCall(fmt.Errorf("replace expected 2 or 3 arguments, got %d", len(args.Args)))
		}
		count := -1
		if len(args.Args) == 3 {
			count = args.Args[2].Integer()
		}
		return strings.Replace(self, args.Args[0].String(), args.Args[1].String(), count), nil
	}
	m["upper"] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		return pyUpper(self), nil
	}
	m["split"] = pySplit(false)
	m["rsplit"] = pySplit(true)
	m["ljust"] = pyJustify(func(pad, _ int) int { return 0 })
	m["rjust"] = pyJustify(func(pad, _ int) int { return pad })
	m["center"] = pyJustify(func(pad, width int) int { return pad/2 + (pad & width & 1) }) // CPython's rounding
	m["count"] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) != 1 {
			return nil, exec.ErrInvalidCall(errors.New("count() takes exactly one argument"))
		}
		return strings.Count(self, args.Args[0].String()), nil
	}
	m["partition"] = pyPartition(strings.Cut)
	m["rpartition"] = pyPartition(func(s, sep string) (string, string, bool) {
		if i := strings.LastIndex(s, sep); i >= 0 {
			return s[:i], s[i+len(sep):], true
		}
		return "", s, false
	})
	m["index"] = pyIndex(strings.Index, "index")
	m["rindex"] = pyIndex(strings.LastIndex, "rindex")
	m["join"] = func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) != 1 || !args.Args[0].IsIterable() {
			return nil, exec.ErrInvalidCall(errors.New("join() takes exactly one iterable argument"))
		}
		var parts []string
		var bad error
		args.Args[0].Iterate(func(_, _ int, k, _ *exec.Value) bool {
			if !k.IsString() {
				bad = fmt.Errorf("sequence item %d: expected str instance, %s found", len(parts), pyTypeName(k))
				return false
			}
			parts = append(parts, k.String())
			return true
		}, func() {})
		if bad != nil {
			return nil, bad
		}
		return strings.Join(parts, self), nil
	}
	strip := func(trim func(string, string) string, trimSpace func(string, func(rune) bool) string) exec.Method[string] {
		return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
			if len(args.Args) > 1 {
				return nil, exec.ErrInvalidCall(errors.New("strip takes at most 1 argument"))
			}
			if len(args.Args) == 1 && !args.Args[0].IsNil() {
				return trim(self, args.Args[0].String()), nil
			}
			return trimSpace(self, unicode.IsSpace), nil
		}
	}
	for _, name := range []string{"startswith", "endswith"} {
		orig := m[name]
		if orig == nil {
			continue
		}
		// a tuple of prefixes matches when any one does
		m[name] = func(self string, sv *exec.Value, args *exec.VarArgs) (any, error) {
			if len(args.Args) == 0 || !args.Args[0].IsList() {
				return orig(self, sv, args)
			}
			for _, p := range listOf(args.Args[0]) {
				a := &exec.VarArgs{Args: append([]*exec.Value{exec.ToValue(p)}, args.Args[1:]...), KwArgs: args.KwArgs}
				ok, err := orig(self, sv, a)
				if err != nil || ok == true {
					return ok, err
				}
			}
			return false, nil
		}
	}
	m["strip"] = strip(strings.Trim, strings.TrimFunc)
	m["lstrip"] = strip(strings.TrimLeft, strings.TrimLeftFunc)
	m["rstrip"] = strip(strings.TrimRight, strings.TrimRightFunc)
	return exec.NewMethodSet(m)
}

// pySplit is str.split / str.rsplit: on runs of whitespace without a
// separator, at most maxsplit times (-1: no limit).
func pySplit(fromRight bool) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		sep, hasSep, max := "", false, -1
		if len(args.Args) > 0 && !args.Args[0].IsNil() {
			sep, hasSep = args.Args[0].String(), true
		}
		if v, ok := args.KwArgs["sep"]; ok && !v.IsNil() {
			sep, hasSep = v.String(), true
		}
		if len(args.Args) > 1 {
			max = args.Args[1].Integer()
		}
		if v, ok := args.KwArgs["maxsplit"]; ok {
			max = v.Integer()
		}
		if hasSep && sep == "" {
			return nil, errors.New("empty separator")
		}
		var parts []string
		switch {
		case !hasSep && max < 0:
			parts = strings.Fields(self)
		case !hasSep && fromRight:
			parts = rsplitFields(self, max)
		case !hasSep:
			parts = splitFields(self, max)
		case max < 0:
			parts = strings.Split(self, sep)
		case fromRight:
			all := strings.Split(self, sep)
			if len(all) > max+1 {
				parts = append([]string{strings.Join(all[:len(all)-max], sep)}, all[len(all)-max:]...)
			} else {
				parts = all
			}
		default:
			parts = strings.SplitN(self, sep, max+1)
		}
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return &out, nil
	}
}

// splitFields is str.split(None, max) for max >= 0.
func splitFields(s string, max int) []string {
	var parts []string
	rest := strings.TrimLeftFunc(s, unicode.IsSpace)
	for range max {
		i := strings.IndexFunc(rest, unicode.IsSpace)
		if i < 0 {
			break
		}
		parts = append(parts, rest[:i])
		rest = strings.TrimLeftFunc(rest[i:], unicode.IsSpace)
	}
	if rest != "" {
		parts = append(parts, rest)
	}
	return parts
}

// rsplitFields is str.rsplit(None, max) for max >= 0.
func rsplitFields(s string, max int) []string {
	var parts []string
	rest := strings.TrimRightFunc(s, unicode.IsSpace)
	for range max {
		i := strings.LastIndexFunc(rest, unicode.IsSpace)
		if i < 0 {
			break
		}
		parts = append([]string{rest[i+1:]}, parts...)
		rest = strings.TrimRightFunc(rest[:i], unicode.IsSpace)
	}
	if rest != "" {
		parts = append([]string{rest}, parts...)
	}
	return parts
}

// pyJustify is str.ljust / rjust / center; left says how much of the
// padding goes to the left.
func pyJustify(left func(pad, width int) int) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) < 1 || len(args.Args) > 2 {
			return nil, exec.ErrInvalidCall(fmt.Errorf("expected 1 or 2 arguments, got %d", len(args.Args)))
		}
		width, fill := args.Args[0].Integer(), " "
		if len(args.Args) == 2 {
			fill = args.Args[1].String()
			if len([]rune(fill)) != 1 {
				return nil, errors.New("the fill character must be exactly one character long")
			}
		}
		pad := width - len([]rune(self))
		if pad <= 0 {
			return self, nil
		}
		l := left(pad, width)
		return strings.Repeat(fill, l) + self + strings.Repeat(fill, pad-l), nil
	}
}

// pyPartition is str.partition / rpartition: a 3-tuple.
func pyPartition(cut func(s, sep string) (string, string, bool)) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) != 1 || args.Args[0].String() == "" {
			return nil, exec.ErrInvalidCall(errors.New("partition() takes one non-empty separator"))
		}
		sep := args.Args[0].String()
		before, after, found := cut(self, sep)
		if !found {
			sep = ""
		}
		return pyTuple{before, sep, after}, nil
	}
}

// pyIndex is str.index / str.rindex: find, but a miss is an error.
func pyIndex(find func(s, sub string) int, name string) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) != 1 {
			return nil, exec.ErrInvalidCall(fmt.Errorf("%s() takes exactly one argument", name))
		}
		i := find(self, args.Args[0].String())
		if i < 0 {
			return nil, errors.New("substring not found")
		}
		return len([]rune(self[:i])), nil
	}
}
