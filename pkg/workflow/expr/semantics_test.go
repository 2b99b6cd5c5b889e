package expr

import (
	"strings"
	"testing"
)

// The tables in the semantics_*_test.go files state GitHub's documented
// expression semantics ("Evaluate expressions in workflows and actions":
// literals, operators, loose equality with coercion to number,
// case-insensitive strings, object filters and the built-in functions), one
// expression per row; where the documentation says nothing (Unicode case
// mapping, number formatting, error positions) they follow GitHub's own
// evaluator. They are the package's own check and need no external corpus.

// semCase is an expression and its expected value as show prints it.
type semCase struct {
	src  string
	want string
}

// semJSON is the contexts every semCase sees. obj has keys that the index
// tests reach through coerced keys; big has more than indexFrom keys, so it
// is looked up through its index map.
const semJSON = `{
	"obj": {"a": 1, "B": "two", "1": "one", "true": "T", "null": "N", "": "E", "1.5": "f", "x-y": "dash", "Ünï": "u"},
	"arr": ["zero", "one", "two"],
	"nested": [{"name": "a", "v": [1, 2]}, {"name": "b", "v": [3]}, {"other": 1}, 5],
	"big": {"k0": 0, "k1": 1, "k2": 2, "k3": 3, "k4": 4, "k5": 5, "k6": 6, "k7": 7, "k8": 8, "Äö": "umlaut", "K0": "dup"},
	"empty": {},
	"s": "text",
	"n": 3
}`

func semEnv(t testing.TB) *Env {
	t.Helper()
	v, err := ParseJSON([]byte(semJSON))
	if err != nil {
		t.Fatal(err)
	}
	o := v.(*Object)
	env := &Env{Contexts: map[string]any{}, Funcs: map[string]Func{
		"count": func(args []any) (any, error) { // sees filters as plain arrays
			a, ok := args[0].([]any)
			if !ok {
				return -1, nil
			}
			return len(a), nil
		},
	}}
	for i, k := range o.Keys() {
		env.Contexts[k] = o.Values()[i]
	}
	return env
}

// semFuncs declares the test-only functions for the parser.
var semFuncs = []FuncSpec{{Name: "count", MinArgs: 1, MaxArgs: 1}}

// show prints a value for comparison: compact JSON, except that numbers
// print as JavaScript does, so NaN and the infinities are distinct from null
// (1 is a number, "1" a string).
func show(v any) string {
	if f, ok := v.(float64); ok {
		return jsNumberString(f)
	}
	return compactJSON(v)
}

func runSem(t *testing.T, cases []semCase) {
	t.Helper()
	env := semEnv(t)
	for _, c := range cases {
		n, err := ParseWith(c.src, ParseOptions{Funcs: semFuncs})
		if err != nil {
			t.Errorf("%s: parse: %v", c.src, err)
			continue
		}
		v, err := Eval(n, env)
		if err != nil {
			t.Errorf("%s: eval: %v", c.src, err)
			continue
		}
		if got := show(v); got != c.want {
			t.Errorf("%s = %s, want %s", c.src, got, c.want)
		}
	}
}

// Loose equality: values of different kinds are compared as numbers (null
// 0, true 1, false 0, strings parsed as numbers, "" 0, anything else NaN);
// NaN equals nothing; strings ignore case; arrays and objects are equal
// only to the same instance.
var equalityCases = []semCase{
	{"null == null", "true"},
	{"null == 0", "true"},
	{"null == false", "true"},
	{"null == ''", "true"},
	{"null == 'null'", "false"},
	{"null != 1", "true"},
	{"true == 1", "true"},
	{"true == 2", "false"},
	{"false == 0", "true"},
	{"true == '1'", "true"},
	{"true == 'true'", "false"},
	{"false == ''", "true"},
	{"'1' == true", "true"},
	{"1 == '1'", "true"},
	{"1 == '1.0'", "true"},
	{"0 == ''", "true"},
	{"1 == 'one'", "false"},
	{"1 == 1.0", "true"},
	{"-0 == 0", "true"},
	{"'abc' == 'ABC'", "true"},
	{"'abc' != 'ABD'", "true"},
	{"'abc' == 'abc '", "false"},
	{"'' == ''", "true"},
	{"NaN == NaN", "false"},
	{"NaN != NaN", "true"},
	{"'abc' == NaN", "false"},
	{"Infinity == 'Infinity'", "true"},
	{"-Infinity == '-Infinity'", "true"},
	{"Infinity == 'infinity'", "false"},
	{"arr == arr", "true"},
	{"obj == obj", "true"},
	{"obj != obj", "false"},
	{"obj == empty", "false"},
	{"fromJSON('[]') == fromJSON('[]')", "false"},
	{"fromJSON('{}') == fromJSON('{}')", "false"},
	{"obj.* == obj.*", "false"},
	{"fromJSON('[1]') == 1", "false"},
	{"arr == 'Array'", "false"},
	{"obj == 'Object'", "false"},
	{"arr == 0", "false"},
	{"null == arr", "false"},
	{"false == obj", "false"},
	{"arr == obj", "false"},
}

// Ordering: the same coercion, NaN and arrays/objects are neither smaller
// nor larger; strings compare case-insensitively as upper case, by UTF-16
// code unit.
var orderingCases = []semCase{
	{"1 < 2", "true"},
	{"2 < 1", "false"},
	{"2 <= 2", "true"},
	{"3 >= 2", "true"},
	{"2 > 2", "false"},
	{"'10' < 9", "false"},
	{"'10' > 9", "true"},
	{"1 < '2'", "true"},
	{"'' < 1", "true"},
	{"' ' < 1", "true"},
	{"'a' < 'b'", "true"},
	{"'a' < 'B'", "true"},
	{"'B' > 'a'", "true"},
	{"'a' <= 'A'", "true"},
	{"'a' >= 'A'", "true"},
	{"'a' > 'A'", "false"},
	{"'abc' < 'abcd'", "true"},
	{"'abcd' > 'ABC'", "true"},
	{"'abc' > 'abcd'", "false"},
	{"'10' < '9'", "true"}, // both strings: compared as text
	{"'_' > 'a'", "true"},  // 'a' compares as 'A' (0x41) < '_' (0x5F)
	{"'_' < 'A'", "false"},
	{"null < 1", "true"},
	{"null >= 0", "true"},
	{"null < null", "false"},
	{"null <= null", "true"},
	{"false < true", "true"},
	{"true > false", "true"},
	{"true >= 1", "true"},
	{"true > '0'", "true"},
	{"true <= false", "false"},
	{"null < 'a'", "false"},
	{"null > 'a'", "false"},
	{"NaN < 1", "false"},
	{"NaN > 1", "false"},
	{"NaN <= NaN", "false"},
	{"NaN >= NaN", "false"},
	{"'x' < 1", "false"},
	{"'x' >= 1", "false"},
	{"arr < 1", "false"},
	{"arr > 1", "false"},
	{"arr < 'b'", "false"},
	{"obj > 0", "false"},
	{"Infinity > 1.7976931348623157e308", "true"},
	{"-Infinity < -1.7976931348623157e308", "true"},
	{"1 < 2 == true", "true"},
}

// Case-insensitive comparison with full Unicode case mapping (ß is SS, the
// ﬁ ligature FI, every sigma Σ), except that the dotless ı and the dotted İ
// match neither i nor I. Order is by UTF-16 code units, so a character
// outside the BMP (a surrogate pair, 0xD83D...) sorts before U+FF21.
var unicodeCases = []semCase{
	{"'ä' == 'Ä'", "true"},
	{"'ß' == 'SS'", "true"},
	{"'ß' == 'ss'", "true"},
	{"'straße' == 'STRASSE'", "true"},
	{"'ﬁ' == 'FI'", "true"},
	{"'σ' == 'Σ'", "true"},
	{"'ς' == 'Σ'", "true"},
	{"'ς' == 'σ'", "true"},
	{"'i' == 'I'", "true"},
	{"'ı' == 'I'", "false"},
	{"'ı' == 'i'", "false"},
	{"'İ' == 'i'", "false"},
	{"'ﬀ' == 'ff'", "true"},
	{"'é' > 'z'", "true"},
	{"'É' < 'é'", "false"},
	{"'😀' < 'Ａ'", "true"},
	{"'😀' > 'z'", "true"},
	{"'ŉ' == 'ʼN'", "true"},
	{"'ΣAß' > 'σass'", "false"},
	{"'ΣAß' >= 'σass'", "true"},
	{"'ab' < 'ß'", "true"},
	// Greek letters whose upper case is two or three characters.
	{"'\u1fb3' == '\u0391\u0399'", "true"}, // ᾳ is ΑΙ
	{"'\u1f80' == '\u1f08\u0399'", "true"}, // ᾀ is ἈΙ
	{"'\u1f56' == '\u03a5\u0313\u0342'", "true"},
	{"'\u0390' == '\u0399\u0308\u0301'", "true"}, // ΐ
	{"'\u03b0' == '\u03a5\u0308\u0301'", "true"}, // ΰ
	{"'\u0390' == '\u03aa\u0301'", "false"},      // no normalization: Ϊ + acute is another string
	{"startsWith('\u1ff3x', '\u03a9\u0399')", "true"},
	{"endsWith('x\u1fe6', '\u03a5\u0342')", "true"},
}

// Number literals and conversions of strings to numbers (JavaScript's
// Number(): surrounding white space ignored, "" is 0, 0x/0o/0b prefixes
// without a sign, Infinity, decimals with exponent; anything else NaN).
var numberCases = []semCase{
	{"0x1F", "31"},
	{"0X1f", "31"},
	{"0o17", "15"},
	{"0b101", "5"},
	{"1e3", "1000"},
	{"1E-2", "0.01"},
	{"2.5e+1", "25"},
	{".5", "0.5"},
	{"-.5", "-0.5"},
	{"1.", "1"},
	{"+1", "1"},
	{"-1.5e2", "-150"},
	{"Infinity", "Infinity"},
	{"-Infinity", "-Infinity"},
	{"NaN", "NaN"},
	{"1e400", "Infinity"},
	{"'0x1F' == 31", "true"},
	{"'0o7' == 7", "true"},
	{"'0b11' == 3", "true"},
	{"'-0x10' == -16", "false"},
	{"'0x' == 0", "false"},
	{"'0x1G' == 1", "false"},
	{"'0o8' == 0", "false"},
	{"' 12 ' == 12", "true"},
	{"'\t12\n' == 12", "true"},
	{"'\u00a012\u3000' == 12", "true"},
	{"'1e3' == 1000", "true"},
	{"'.5' == 0.5", "true"},
	{"'5.' == 5", "true"},
	{"'+5' == 5", "true"},
	{"'-5' == -5", "true"},
	{"'1e' == 1", "false"},
	{"'e1' == 1", "false"},
	{"'.' == 0", "false"},
	{"'1.2.3' == 1.2", "false"},
	{"'12abc' == 12", "false"},
	{"'1_000' == 1000", "false"},
	{"'1,000' == 1000", "false"},
	{"'Infinity' == Infinity", "true"},
	{"'+Infinity' == Infinity", "true"},
	{"'-Infinity' == -Infinity", "true"},
	{"'1e400' == Infinity", "true"},
	{"'' == 0", "true"},
	{"'   ' == 0", "true"},
	{"'abc' == 0", "false"},
	// Past 2^53 a prefixed number is rounded once, to the nearest double.
	{"0x299d5f35fbb275d", "187416100772456300"},
	{"0o4144643432076124152", "75604862573258860"},
	{"0b1100000011010110010101011101001101001100110001101000011", "27139429817017156"},
	{"'0X299D5F35FBB275D' == 187416100772456300", "true"},
	{"0x" + strings.Repeat("f", 300), "Infinity"},
}

// Numbers coerced to strings: the shortest form that reads back the same
// number (after rounding to 15 decimals), integers without a fraction,
// exponents from 1e21 up and below 1e-6, -0 as 0.
var numberStringCases = []semCase{
	{"format('{0}', 1)", `"1"`},
	{"format('{0}', 1.50)", `"1.5"`},
	{"format('{0}', -0)", `"0"`},
	{"format('{0}', 100)", `"100"`},
	{"format('{0}', -42)", `"-42"`},
	{"format('{0}', 0x10)", `"16"`},
	{"format('{0}', 9007199254740992)", `"9007199254740992"`},
	{"format('{0}', 1e20)", `"100000000000000000000"`},
	{"format('{0}', 123456789012345678901)", `"123456789012345680000"`},
	{"format('{0}', 1e21)", `"1e+21"`},
	{"format('{0}', -1e21)", `"-1e+21"`},
	{"format('{0}', 1.5e300)", `"1.5e+300"`},
	{"format('{0}', 1.7976931348623157e308)", `"1.7976931348623157e+308"`},
	{"format('{0}', 0.000001)", `"0.000001"`},
	{"format('{0}', 0.0000015)", `"0.0000015"`},
	{"format('{0}', 1e-7)", `"1e-7"`},
	{"format('{0}', 1.5e-10)", `"1.5e-10"`},
	{"format('{0}', 0.1234567890123456)", `"0.123456789012346"`},
	{"format('{0}', 1.0000000000000002)", `"1"`},
	{"format('{0}', Infinity)", `"Infinity"`},
	{"format('{0}', -Infinity)", `"-Infinity"`},
	{"format('{0}', NaN)", `"NaN"`},
	{"format('{0} {1} {2}', true, false, null)", `"true false "`},
	{"toJSON(1e21)", `"1e+21"`},
	{"toJSON(0.000001)", `"0.000001"`},
	{"toJSON(1e-7)", `"1e-7"`},
	{"toJSON(-0)", `"0"`},
	{"toJSON(-1.5)", `"-1.5"`},
	{"toJSON(NaN)", `"null"`},
	{"toJSON(Infinity)", `"null"`},
}

func TestSemanticsEquality(t *testing.T)      { runSem(t, equalityCases) }
func TestSemanticsOrdering(t *testing.T)      { runSem(t, orderingCases) }
func TestSemanticsUnicode(t *testing.T)       { runSem(t, unicodeCases) }
func TestSemanticsNumbers(t *testing.T)       { runSem(t, numberCases) }
func TestSemanticsNumberStrings(t *testing.T) { runSem(t, numberStringCases) }
