package expr

import (
	"encoding/json"
	"strings"
	"testing"
)

// The built-in functions. contains, startsWith and endsWith coerce their
// arguments to strings and ignore case; contains with an array searches its
// items with loose equality; none of them looks inside an array or object
// given where a string is expected. format replaces {N} and turns {{ and }}
// into braces; join joins items with "," or a separator; toJSON
// pretty-prints; fromJSON parses; case picks the value after the first
// true predicate, or the default.
var funcCases = []semCase{
	{"contains('Hello World', 'WORLD')", "true"},
	{"contains('abc', '')", "true"},
	{"contains('abc', 'd')", "false"},
	{"contains('', 'a')", "false"},
	{"contains(123, 23)", "true"},
	{"contains(1.5, '.')", "true"},
	{"contains(true, 'RU')", "true"},
	{"contains(null, 'a')", "false"},
	{"contains(null, '')", "true"},
	{"contains('ÄBC', 'äb')", "true"},
	{"contains('İstanbul', 'i')", "true"},
	{"contains('ΑΣ', 'ς')", "true"}, // a final Σ lower-cases to ς
	{"contains('ΌΣΟΣ', 'όσος')", "true"},
	{"contains('ΣΑ', 'σα')", "true"},
	{"contains(arr, 'ONE')", "true"},
	{"contains(arr, 'on')", "false"},
	{"contains(fromJSON('[1,2]'), '2')", "true"},
	{"contains(fromJSON('[1,2]'), 3)", "false"},
	{"contains(fromJSON('[true]'), 1)", "true"},
	{"contains(fromJSON('[null]'), null)", "true"},
	{"contains(fromJSON('[[1]]'), fromJSON('[1]'))", "false"},
	{"contains(fromJSON('[]'), '')", "false"},
	{"contains(obj, 'a')", "false"},
	{"contains('Array', arr)", "false"},
	{"contains('Object', obj)", "false"},
	{"contains(nested.*.name, 'B')", "true"},
	{"contains(nested.*.name, 'c')", "false"},
	{"startsWith('Hello', 'he')", "true"},
	{"startsWith('Hello', 'lo')", "false"},
	{"startsWith('a', 'ab')", "false"},
	{"startsWith('', '')", "true"},
	{"startsWith(12.5, 12)", "true"},
	{"startsWith(true, 'T')", "true"},
	{"startsWith(null, '')", "true"},
	{"startsWith(arr, 'A')", "false"},
	{"startsWith('Array', arr)", "false"},
	{"startsWith('ßx', 'SS')", "true"},
	{"startsWith('ΣAß', 'ς')", "true"},
	{"startsWith('éa', 'É')", "true"},
	{"startsWith('éa', 'a')", "false"},
	{"endsWith('Hello', 'LO')", "true"},
	{"endsWith('Hello', 'he')", "false"},
	{"endsWith('a', 'ba')", "false"},
	{"endsWith(12.5, '.5')", "true"},
	{"endsWith(null, 'x')", "false"},
	{"endsWith(obj, 'ect')", "false"},
	{"endsWith('Straße', 'SSE')", "true"},
	{"endsWith('Straße', 'ße')", "true"},
	{"endsWith('ΣAß', 'ς')", "false"},
	{"endsWith('aé', 'b')", "false"},

	{"format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", `"Hello Mona the Octocat"`},
	{"format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", `"{Hello Mona the Octocat!}"`},
	{"format('{0}{0}', 'a')", `"aa"`},
	{"format('{1}{0}', 'a', 'b')", `"ba"`},
	{"format('{{0}}', 1)", `"{0}"`},
	{"format('{{{0}}}', 1)", `"{1}"`},
	{"format('{{}}')", `"{}"`},
	{"format('}}{{')", `"}{"`},
	{"format('a}}b{{c')", `"a}b{c"`},
	{"format('no args')", `"no args"`},
	{"format('')", `""`},
	{"format(42)", `"42"`},
	{"format('{0}', '{1}')", `"{1}"`},
	{"format('{0}', null)", `""`},
	{"format('{0}', true)", `"true"`},
	{"format('{0}', arr)", `"Array"`},
	{"format('{0}', obj)", `"Object"`},
	{"format('{0}', nested.*.name)", `"Array"`},
	{"format('{10}', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 'ten')", `"ten"`},
	{"format('[{0}]', 'ü')", `"[ü]"`},

	{"join(arr)", `"zero,one,two"`},
	{"join(arr, ' | ')", `"zero | one | two"`},
	{"join(arr, '')", `"zeroonetwo"`},
	{"join(arr, 1)", `"zero1one1two"`},
	{"join(arr, null)", `"zeroonetwo"`},
	{"join(arr, arr)", `"zero,one,two"`},
	{"join(fromJSON('[1,null,true,\"x\"]'), '-')", `"1--true-x"`},
	{"join(fromJSON('[[1],{}]'))", `"Array,Object"`},
	{"join(fromJSON('[]'))", `""`},
	{"join(fromJSON('[\"only\"]'), '-')", `"only"`},
	{"join('abc')", `"abc"`},
	{"join('abc', '-')", `"abc"`},
	{"join(1.5)", `"1.5"`},
	{"join(null)", `""`},
	{"join(obj)", `""`},
	{"join(nested.*.name, '/')", `"a/b"`},

	{"toJSON(1)", `"1"`},
	{"toJSON('a')", `"\"a\""`},
	{"toJSON(null)", `"null"`},
	{"toJSON(true)", `"true"`},
	{"toJSON(false)", `"false"`},
	{"toJSON(empty)", `"{}"`},
	{"toJSON(fromJSON('[]'))", `"[]"`},
	{"toJSON(arr)", `"[\n  \"zero\",\n  \"one\",\n  \"two\"\n]"`},
	{"toJSON(nested.*.name)", `"[\n  \"a\",\n  \"b\"\n]"`},
	{`toJSON(fromJSON('{"a":[1,{"b":null}],"c":"x","d":{}}'))`, `"{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": \"x\",\n  \"d\": {}\n}"`},

	{"fromJSON('1')", "1"},
	{"fromJSON(' true ')", "true"},
	{"fromJSON('null')", "null"},
	{"fromJSON('\"a\"')", `"a"`},
	{"fromJSON(5)", "5"},
	{"fromJSON('-1.5e2')", "-150"},
	{"fromJSON('1e400')", "Infinity"},
	{`fromJSON('[1,"a",null,[],{}]')`, `[1,"a",null,[],{}]`},
	{`fromJSON('{"b":1,"a":2}')`, `{"b":1,"a":2}`},
	{`fromJSON('{"a":1,"A":2}')`, `{"a":1}`},
	{`fromJSON('{"a":1,"a":2}')`, `{"a":2}`},
	{`fromJSON('{"a":1}').A`, "1"},
	{`fromJSON('"\u00e9\n"')`, `"é\n"`},
	{"fromJSON(toJSON(obj)) == obj", "false"},
	{"fromJSON(toJSON(obj)).B", `"two"`},
	{"toJSON(fromJSON(toJSON(nested)))  == toJSON(nested)", "true"},

	{"case(true, 'a', 'b')", `"a"`},
	{"case(false, 'a', 'b')", `"b"`},
	{"case(false, 1, true, 2, 3)", "2"},
	{"case(false, 1, false, 2, 3)", "3"},
	{"case(n == 3, 'three', 'other')", `"three"`},
	{"case(1 > 2, 'a', null)", "null"},
	{"CASE(true, arr, obj)", `["zero","one","two"]`},
	{"case(true, 'a', fromJSON(''))", `"a"`},
	{"case(false, fromJSON(''), 'b')", `"b"`},
	{"case(true, 'a', fromJSON('') == 1, 'b', 'c')", `"a"`},
}

func TestSemanticsFunctions(t *testing.T) { runSem(t, funcCases) }

// TestSemanticsToJSONStrings: toJSON quotes strings as JSON.stringify
// does: quote, backslash and control characters escaped (\b \f \n \r \t
// by name), nothing else (no HTML escaping). A string that is not valid
// UTF-8 (a workflow file may hold one) still gives valid JSON, with U+FFFD
// for each bad byte.
func TestSemanticsToJSONStrings(t *testing.T) {
	tests := []struct {
		in, want string // want "" checks only that the JSON decodes to decoded
		decoded  string
	}{
		{`q"b\s`, `"q\"b\\s"`, `q"b\s`},
		{"\t\n\r\b\f", `"\t\n\r\b\f"`, "\t\n\r\b\f"},
		{"\x01\x1f\x7f", `"\u0001\u001f` + "\x7f" + `"`, "\x01\x1f\x7f"},
		{"<>&é😀 it's", `"<>&é😀 it's"`, "<>&é😀 it's"},
		{"a\xffb\xc3", "", "a\ufffdb\ufffd"},
	}
	for _, tt := range tests {
		src := "toJSON('" + strings.ReplaceAll(tt.in, "'", "''") + "')"
		n, err := Parse(src)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		v, err := Eval(n, nil)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		got, _ := v.(string)
		if tt.want != "" && got != tt.want {
			t.Errorf("toJSON(%q) = %s, want %s", tt.in, got, tt.want)
		}
		var s string
		if err := json.Unmarshal([]byte(got), &s); err != nil || s != tt.decoded {
			t.Errorf("toJSON(%q) = %s: decodes to %q, %v; want %q", tt.in, got, s, err, tt.decoded)
		}
	}
}
