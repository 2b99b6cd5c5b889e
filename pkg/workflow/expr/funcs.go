package expr

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// Value kinds in the order of GitHub's coercion rules.
const (
	kNull = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

func kindCode(v any) int {
	switch v.(type) {
	case nil:
		return kNull
	case bool:
		return kBool
	case float64:
		return kNumber
	case string:
		return kString
	case []any, filtered:
		return kArray
	}
	return kObject
}

// coerce converts two operands for comparison: like JavaScript's loose
// equality, except that arrays and objects are never converted.
func coerce(l, r any) (any, any) {
	kl, kr := kindCode(l), kindCode(r)
	if kl == kr {
		return l, r
	}
	switch kl {
	case kNumber:
		if kr == kString {
			return l, toNumber(r)
		}
	case kString:
		if kr == kNumber {
			return toNumber(l), r
		}
	case kNull, kBool:
		return coerce(toNumber(l), r)
	}
	if kr == kNull || kr == kBool {
		return coerce(l, toNumber(r))
	}
	return l, r
}

// compareOp applies ==, !=, <, <=, >, >=.
func compareOp(op tokenKind, l, r any) bool {
	switch op {
	case tEqual:
		return equals(l, r)
	case tNotEqual:
		return !equals(l, r)
	case tLess:
		return order(l, r) == -1
	case tLessEqual:
		return equals(l, r) || order(l, r) == -1
	case tGreater:
		return order(l, r) == 1
	case tGreaterEqual:
		return equals(l, r) || order(l, r) == 1
	}
	return false
}

func equals(l, r any) bool {
	l, r = coerce(l, r)
	kl := kindCode(l)
	if kl != kindCode(r) {
		return false
	}
	switch kl {
	case kNull:
		return true
	case kNumber:
		return l.(float64) == r.(float64) // NaN is unequal to everything
	case kString:
		return compareStrings(l.(string), r.(string)) == 0
	case kBool:
		return l.(bool) == r.(bool)
	case kArray:
		return sameArray(asArray(l), asArray(r))
	case kObject:
		return l == r
	}
	return false
}

func asArray(v any) []any {
	if f, ok := v.(filtered); ok {
		return []any(f)
	}
	a, _ := v.([]any)
	return a
}

// order returns -1 or 1 when l < r or l > r, and 0 when neither holds
// (equal, incomparable, or NaN).
func order(l, r any) int {
	l, r = coerce(l, r)
	kl := kindCode(l)
	if kl != kindCode(r) {
		return 0
	}
	switch kl {
	case kNumber:
		a, b := l.(float64), r.(float64)
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
	case kString:
		return compareStrings(l.(string), r.(string))
	case kBool:
		a, b := l.(bool), r.(bool)
		switch {
		case !a && b:
			return -1
		case a && !b:
			return 1
		}
	}
	return 0
}

// compareStrings compares case-insensitively as GitHub does: both sides
// upper-cased with full Unicode case mapping (the dotless ı excepted),
// then ordered by UTF-16 code units.
func compareStrings(a, b string) int {
	if isASCII(a) && isASCII(b) {
		for i := 0; i < len(a) && i < len(b); i++ {
			ca, cb := upperASCII(a[i]), upperASCII(b[i])
			if ca != cb {
				if ca < cb {
					return -1
				}
				return 1
			}
		}
		switch {
		case len(a) < len(b):
			return -1
		case len(a) > len(b):
			return 1
		}
		return 0
	}
	ua := utf16.Encode([]rune(upperSpecial(a)))
	ub := utf16.Encode([]rune(upperSpecial(b)))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			if ua[i] < ub[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(ua) < len(ub):
		return -1
	case len(ua) > len(ub):
		return 1
	}
	return 0
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 32
	}
	return c
}

// upperSpecial upper-cases s as JavaScript's toUpperCase does (full
// Unicode case mapping: ß is SS, ᾳ is ΑΙ), leaving the dotless ı alone
// (GitHub does not map it to I).
func upperSpecial(s string) string {
	if isASCII(s) {
		return strings.ToUpper(s)
	}
	upper := cases.Upper(language.Und)
	if !strings.ContainsRune(s, 'ı') {
		return upper.String(s)
	}
	parts := strings.Split(s, "ı")
	for i, p := range parts {
		parts[i] = upper.String(p)
	}
	return strings.Join(parts, "ı")
}

// lowerJS lower-cases s as JavaScript's toLowerCase does (full case
// mapping: İ becomes i + combining dot, a word-final Σ becomes ς).
func lowerJS(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	return cases.Lower(language.Und).String(s)
}

// containsFunc: substring test for primitives (case-insensitive), element
// test (loose equality) for arrays.
func containsFunc(search, item any) bool {
	if isPrimitive(search) {
		if isPrimitive(item) {
			return strings.Contains(lowerJS(toString(search)), lowerJS(toString(item)))
		}
		return false
	}
	for _, v := range asArray(search) {
		if equals(item, v) {
			return true
		}
	}
	return false
}

func startsWithFunc(s, part any, suffix bool) bool {
	if !isPrimitive(s) || !isPrimitive(part) {
		return false
	}
	a, b := toString(s), toString(part)
	if isASCII(a) && isASCII(b) {
		if len(b) > len(a) {
			return false
		}
		if suffix {
			return strings.EqualFold(a[len(a)-len(b):], b)
		}
		return strings.EqualFold(a[:len(b)], b)
	}
	a, b = upperSpecial(a), upperSpecial(b)
	if suffix {
		return strings.HasSuffix(a, b)
	}
	return strings.HasPrefix(a, b)
}

var errMemory = errors.New("The maximum allowed memory size was exceeded")

// format replaces {N} with the coerced arguments; {{ and }} are literal
// braces. limit is the largest result allowed, in bytes.
func format(args []any, limit int) (string, error) {
	fs := toString(args[0])
	invalid := fmt.Errorf("The following format string is invalid: %s", fs)
	var b strings.Builder
	i := 0
	for i < len(fs) {
		if b.Len() > limit {
			return "", errMemory
		}
		lb := strings.IndexByte(fs[i:], '{')
		rb := strings.IndexByte(fs[i:], '}')
		if lb >= 0 {
			lb += i
		}
		if rb >= 0 {
			rb += i
		}
		switch {
		case lb >= 0 && (rb < 0 || rb > lb):
			if lb+1 < len(fs) && fs[lb+1] == '{' {
				b.WriteString(fs[i : lb+1])
				i = lb + 2
				continue
			}
			j := lb + 1
			for j < len(fs) && isDigit(fs[j]) {
				j++
			}
			if j == lb+1 || j != rb {
				return "", invalid
			}
			n := 0
			for _, c := range fs[lb+1 : j] {
				n = n*10 + int(c-'0')
				if n > len(args) {
					break
				}
			}
			if n+1 >= len(args) {
				return "", fmt.Errorf("The following format string references more arguments than were supplied: %s", fs)
			}
			b.WriteString(fs[i:lb])
			b.WriteString(toString(args[n+1]))
			i = rb + 1
		case rb >= 0:
			if rb+1 < len(fs) && fs[rb+1] == '}' {
				b.WriteString(fs[i : rb+1])
				i = rb + 2
				continue
			}
			return "", invalid
		default:
			b.WriteString(fs[i:])
			i = len(fs)
		}
	}
	if b.Len() > limit {
		return "", errMemory
	}
	return b.String(), nil
}

// join concatenates an array's coerced items with a separator (default
// ","); a primitive is coerced as it is; an object gives "".
func join(args []any, limit int) (string, error) {
	if isPrimitive(args[0]) {
		return toString(args[0]), nil
	}
	items := asArray(args[0])
	if items == nil && kindCode(args[0]) != kArray {
		return "", nil
	}
	sep := ","
	if len(args) > 1 && isPrimitive(args[1]) {
		sep = toString(args[1])
	}
	var b strings.Builder
	for i, v := range items {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(toString(v))
		if b.Len() > limit {
			return "", errMemory
		}
	}
	return b.String(), nil
}

func fromJSON(s string) (any, error) {
	if strings.TrimFunc(s, isJSSpace) == "" {
		return nil, errors.New("empty input")
	}
	v, err := ParseJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("Error parsing JSON when evaluating fromJson: %w", err)
	}
	return v, nil
}
