package pyyaml

import "regexp"

// Tags of PyYAML's implicit resolvers.
const (
	TagStr       = "tag:yaml.org,2002:str"
	TagBool      = "tag:yaml.org,2002:bool"
	TagFloat     = "tag:yaml.org,2002:float"
	TagInt       = "tag:yaml.org,2002:int"
	TagMerge     = "tag:yaml.org,2002:merge"
	TagNull      = "tag:yaml.org,2002:null"
	TagTimestamp = "tag:yaml.org,2002:timestamp"
	TagValue     = "tag:yaml.org,2002:value"
	TagYAML      = "tag:yaml.org,2002:yaml"
	TagSeq       = "tag:yaml.org,2002:seq"
	TagMap       = "tag:yaml.org,2002:map"
)

type implicitResolver struct {
	tag   string
	re    *regexp.Regexp
	first string // first characters; "" entry handled separately
}

// pyEnd mimics Python's "$" (end, or before a final newline).
const pyEnd = `\n?$`

// resolvers are PyYAML's Resolver ones in registration order, plus the int
// resolver yamllint's quoted-strings rule registers when it is imported
// (yamllint always imports it).
var resolvers = []implicitResolver{
	{TagBool, regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)` + pyEnd), "yYnNtTfFoO"},
	{TagFloat, regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))` + pyEnd), "-+0123456789."},
	{TagInt, regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)` + pyEnd), "-+0123456789"},
	{TagMerge, regexp.MustCompile(`^(?:<<)` + pyEnd), "<"},
	{TagNull, regexp.MustCompile(`^(?:~|null|Null|NULL|)` + pyEnd), "~nN"},
	{TagTimestamp, regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)` + pyEnd), "0123456789"},
	{TagValue, regexp.MustCompile(`^(?:=)` + pyEnd), "="},
	{TagYAML, regexp.MustCompile(`^(?:!|&|\*)` + pyEnd), "!&*"},
	{TagInt, regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)` + pyEnd), "-+0123456789"},
}

// ResolveScalar returns the tag PyYAML's Resolver gives a plain scalar.
func ResolveScalar(value string) string {
	if value == "" {
		return TagNull
	}
	first := []rune(value)[0]
	for _, r := range resolvers {
		if !containsRune(r.first, first) {
			continue
		}
		if r.re.MatchString(value) {
			return r.tag
		}
	}
	return TagStr
}

func containsRune(s string, c rune) bool {
	for _, r := range s {
		if r == c {
			return true
		}
	}
	return false
}
