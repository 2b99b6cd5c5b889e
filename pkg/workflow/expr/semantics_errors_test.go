package expr

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errCase is an expression that fails: the phase, the byte offset the
// error points at, and a part of the message (GitHub's wording: the
// token, and its 1-based character position in the expression).
type errCase struct {
	src    string
	kind   ErrorKind
	offset int
	msg    string
}

var parseErrorCases = []errCase{
	// Lexing: a character or literal that is no token.
	{"1 +", KindLexing, 2, "Unexpected symbol: '+'. Located at position 3 within expression: 1 +"},
	{"'abc", KindLexing, 0, "Unexpected symbol: ''abc'. Located at position 1"},
	{"'it''s", KindLexing, 0, "position 1"},
	{"1 = 2", KindLexing, 2, "'='. Located at position 3"},
	{"a & b", KindLexing, 2, "'&'"},
	{"a | b", KindLexing, 2, "'|'"},
	{"a ~ b", KindLexing, 2, "'~'"},
	{"1.2.3", KindLexing, 0, "'1.2.3'"},
	{"0x", KindLexing, 0, "'0x'"},
	{"0xZZ", KindLexing, 0, "'0xZZ'"},
	{"0o9", KindLexing, 0, "'0o9'"},
	{"0b2", KindLexing, 0, "'0b2'"},
	{"1e", KindLexing, 0, "'1e'"},
	{"1a", KindLexing, 0, "'1a'"},
	{"--1", KindLexing, 0, "'--1'"},
	{"-a", KindLexing, 0, "'-a'"},
	{"é", KindLexing, 0, "'é'. Located at position 1"},
	{"_ok == 1a", KindLexing, 7, "position 8"},
	{"'üü' == @", KindLexing, 10, "'@'. Located at position 9"}, // position counts characters, the offset bytes
	{"true.a", KindLexing, 4, "'.a'"},
	{"a\u00a0b", KindLexing, 1, "position 2"}, // only ASCII white space separates tokens; a no-break space ends one, then starts a bad one
	// Parsing: tokens in the wrong place.
	{"1 2", KindParsing, 2, "Unexpected symbol: '2'. Located at position 3 within expression: 1 2"},
	{"a b", KindParsing, 2, "Unexpected symbol: 'b'"},
	{"(1", KindParsing, 1, "Unexpected end of expression: '1'. Located at position 2"},
	{"((1)", KindParsing, 3, "Unexpected end of expression: ')'"},
	{"(1 2)", KindParsing, 3, "Unexpected symbol: '2'"},
	{"1)", KindParsing, 1, "Unexpected symbol: ')'"},
	{"()", KindParsing, 1, "Unexpected symbol: ')'"},
	{"==", KindParsing, 0, "Unexpected symbol: '=='"},
	{"!", KindParsing, 0, "Unexpected end of expression: '!'"},
	{"1 ==", KindParsing, 2, "Unexpected end of expression: '=='. Located at position 3"},
	{"1 &&", KindParsing, 2, "Unexpected end of expression: '&&'"},
	{"1 || && 2", KindParsing, 5, "Unexpected symbol: '&&'"},
	{"1 < < 2", KindParsing, 4, "Unexpected symbol: '<'"},
	{"a.", KindParsing, 2, "position 3"},
	{"a.1", KindParsing, 2, "Unexpected symbol: '1'"},
	{"a.'b'", KindParsing, 2, "Unexpected symbol: 'b'"},
	{"a[1", KindParsing, 3, "position 4"},
	{"a[]", KindParsing, 2, "Unexpected symbol: ']'"},
	{"a[*", KindParsing, 3, "position 4"},
	{"a[1 2]", KindParsing, 4, "Unexpected symbol: '2'"},
	{"a..b", KindLexing, 2, "'.b'"}, // a dot after a dot starts a number
	{"1[0]", KindParsing, 1, "Unexpected symbol: '['"},
	{"'a'.b", KindLexing, 3, "'.b'"}, // and so does a dot after a literal
	{"github.*.", KindParsing, 9, "position 10"},
	{"contains('a' 'b')", KindParsing, 13, "Unexpected symbol: 'b'"},
	{"contains('a',", KindParsing, 12, "Unexpected end of expression: ','"},
	{"contains(", KindParsing, 8, "Unexpected end of expression: '('"},
	{"contains('a',,'b')", KindParsing, 13, "Unexpected symbol: ','"},
	// Functions: unknown names and wrong numbers of arguments.
	{"foo(1)", KindParsing, 0, "Unrecognized function: 'foo'. Located at position 1 within expression: foo(1)"},
	{"x && Foo()", KindParsing, 5, "Unrecognized function: 'Foo'. Located at position 6"},
	{"a.contains('x')", KindParsing, 10, "Unexpected symbol: '('"},
	{"contains('a')", KindParsing, 0, "Too few parameters supplied: 'contains'"},
	{"contains('a', 'b', 'c')", KindParsing, 0, "Too many parameters supplied: 'contains'"},
	{"startsWith('a', 'b', 'c')", KindParsing, 0, "Too many parameters supplied: 'startsWith'"},
	{"endsWith('a')", KindParsing, 0, "Too few parameters supplied"},
	{"1 == toJSON()", KindParsing, 5, "Too few parameters supplied: 'toJSON'. Located at position 6"},
	{"fromJSON(1, 2)", KindParsing, 0, "Too many parameters supplied"},
	{"join()", KindParsing, 0, "Too few parameters supplied"},
	{"join(1, 2, 3)", KindParsing, 0, "Too many parameters supplied"},
	{"format()", KindParsing, 0, "Too few parameters supplied"},
	{"hashFiles()", KindParsing, 0, "Too few parameters supplied"},
	{"success(1)", KindParsing, 0, "Too many parameters supplied"},
	{"always(true)", KindParsing, 0, "Too many parameters supplied"},
	{"case()", KindParsing, 0, "Too few parameters supplied"},
	{"case(true, 1)", KindParsing, 0, "Too few parameters supplied"},
	{"case(true, 1, false, 2)", KindParsing, 0, "Even number of parameters supplied, requires an odd number of parameters: 'case'"},
}

func checkErr(t *testing.T, c errCase, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s: err = %v, want %s error", c.src, err, c.kind)
		return
	}
	if e.Kind != c.kind || e.Offset != c.offset || !strings.Contains(e.Msg, c.msg) {
		t.Errorf("%s: got %s error at %d %q, want %s at %d containing %q", c.src, e.Kind, e.Offset, e.Msg, c.kind, c.offset, c.msg)
	}
}

func TestSemanticsParseErrors(t *testing.T) {
	for _, c := range parseErrorCases {
		n, err := Parse(c.src)
		if err == nil {
			t.Errorf("%s: parsed as %s, want %s error", c.src, n, c.kind)
			continue
		}
		checkErr(t, c, err)
	}
	// An expression inside a template reports offsets in the template.
	_, err := ParseTemplate("run: ${{ 1 2 }}")
	checkErr(t, errCase{"run: ${{ 1 2 }}", KindParsing, 11, "Unexpected symbol: '2'"}, err)
}

// TestSemanticsEmpty: an empty expression is null.
func TestSemanticsEmpty(t *testing.T) {
	for _, src := range []string{"", "   ", "\t\n"} {
		n, err := Parse(src)
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if v, err := Eval(n, nil); v != nil || err != nil {
			t.Errorf("%q = %#v, %v; want null", src, v, err)
		}
	}
	if v, err := Eval(nil, nil); v != nil || err != nil {
		t.Errorf("Eval(nil) = %#v, %v", v, err)
	}
}

var evalErrorCases = []errCase{
	{"nosuch", KindEvaluation, 0, "Unrecognized named-value: 'nosuch'"},
	{"1 == nosuch.x", KindEvaluation, 5, "'nosuch'"},
	{"arr[nosuch]", KindEvaluation, 4, "'nosuch'"},
	{"nosuch[arr]", KindEvaluation, 0, "'nosuch'"},
	{"!nosuch", KindEvaluation, 1, "'nosuch'"},
	{"true && nosuch", KindEvaluation, 8, "'nosuch'"},
	{"hashFiles('x')", KindEvaluation, 0, "function 'hashFiles' is not available here"},
	{"success()", KindEvaluation, 0, "'success'"},
	{"contains(nosuch, 1)", KindEvaluation, 9, "'nosuch'"},
	{"fromJSON('')", KindEvaluation, 0, "empty input"},
	{"fromJSON('  ')", KindEvaluation, 0, ""},
	{"fromJSON(null)", KindEvaluation, 0, ""},
	{"1 == fromJSON('{')", KindEvaluation, 5, "Error parsing JSON when evaluating fromJson"},
	{"fromJSON('[1,]')", KindEvaluation, 0, "fromJson"},
	{"fromJSON('1 2')", KindEvaluation, 0, "fromJson"},
	{"fromJSON('nope')", KindEvaluation, 0, "fromJson"},
	{"fromJSON('{\"a\":1}x')", KindEvaluation, 0, "fromJson"},
	{"fromJSON('{\"a\" 1}')", KindEvaluation, 0, "fromJson"},
	{"fromJSON('{1:2}')", KindEvaluation, 0, "fromJson"},
	{"format('{1}', 'a')", KindEvaluation, 0, "The following format string references more arguments than were supplied: {1}"},
	{"format('{0}')", KindEvaluation, 0, "references more arguments"},
	{"format('{99999999999999999999}', 1)", KindEvaluation, 0, "references more arguments"},
	{"format('{')", KindEvaluation, 0, "The following format string is invalid: {"},
	{"format('}')", KindEvaluation, 0, "format string is invalid: }"},
	{"format('{a}', 1)", KindEvaluation, 0, "is invalid"},
	{"format('{0', 1)", KindEvaluation, 0, "is invalid"},
	{"format('{ 0}', 1)", KindEvaluation, 0, "is invalid"},
	{"format('{-1}', 1)", KindEvaluation, 0, "is invalid"},
	{"format('x{}', 1)", KindEvaluation, 0, "is invalid"},
	{"format('{0}}', 1)", KindEvaluation, 0, "is invalid"},
	{"format('{{0}', 1)", KindEvaluation, 0, "is invalid"},
	{"format('{0}{', 1)", KindEvaluation, 0, "is invalid"},
	{"'x' == format('}', 1)", KindEvaluation, 7, "is invalid"},
	{"case(1, 'a', 'b')", KindEvaluation, 5, "case predicate must evaluate to a boolean value"},
	{"case('true', 'a', 'b')", KindEvaluation, 5, "boolean"},
	{"case(null, 'a', 'b')", KindEvaluation, 5, "boolean"},
	{"case(false, 'a', 0, 'b', 'c')", KindEvaluation, 17, "boolean"},
	{"case(true, fromJSON(''), 'b')", KindEvaluation, 11, "empty input"},
	{"case(false, 'a', fromJSON(''))", KindEvaluation, 17, "empty input"},
	{"boom()", KindEvaluation, 0, "boom failed"},
	{"1 < own()", KindEvaluation, 2, "own error"}, // an *Error from a function is passed on as it is
}

func TestSemanticsEvalErrors(t *testing.T) {
	env := semEnv(t)
	env.Funcs = map[string]Func{
		"boom": func([]any) (any, error) { return nil, errors.New("boom failed") },
		"own": func([]any) (any, error) {
			return nil, &Error{Kind: KindEvaluation, Offset: 2, Msg: "own error"}
		},
	}
	opts := ParseOptions{Funcs: []FuncSpec{{Name: "boom"}, {Name: "own"}}}
	for _, c := range evalErrorCases {
		n, err := ParseWith(c.src, opts)
		if err != nil {
			t.Errorf("%s: parse: %v", c.src, err)
			continue
		}
		v, err := Eval(n, env)
		if err == nil {
			t.Errorf("%s = %s, want %s error", c.src, show(v), c.kind)
			continue
		}
		checkErr(t, c, err)
	}
}

// TestSemanticsHashFiles runs hashFiles through an expression: patterns
// may come as several arguments or as lines of one (blank and # lines
// ignored), ! excludes and !! includes again, and a file outside the
// workspace is never read.
func TestSemanticsHashFiles(t *testing.T) {
	root := t.TempDir()
	content := map[string]string{"a.txt": "A", "b.txt": "B", "c.log": "C"}
	for name, c := range content {
		if err := os.WriteFile(filepath.Join(root, name), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("S"), 0o644); err != nil {
		t.Fatal(err)
	}
	digest := func(names ...string) string {
		total := sha256.New()
		for _, n := range names {
			h := sha256.Sum256([]byte(content[n]))
			total.Write(h[:])
		}
		return hex.EncodeToString(total.Sum(nil))
	}
	env := &Env{Funcs: map[string]Func{"hashFiles": HashFiles(root)}}
	tests := []struct{ src, want string }{
		{"hashFiles('*.txt')", digest("a.txt", "b.txt")},
		{"hashFiles('*.txt', '!b.txt')", digest("a.txt")},
		{"hashFiles('*.txt\n\n# comment\n!b.txt\n!!b.txt')", digest("a.txt", "b.txt")},
		{"hashFiles('./c.log')", digest("c.log")},
		{"hashFiles('" + outside + "')", ""},
		{"hashFiles('*.none')", ""},
		{"HASHFILES('c.*') == hashFiles('c.log')", "true"},
	}
	for _, tt := range tests {
		n, err := Parse(tt.src)
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		v, err := Eval(n, env)
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		if got := String(v); got != tt.want {
			t.Errorf("%q = %q, want %q", tt.src, got, tt.want)
		}
	}
}

// TestObjectAPI: objects keep insertion order, look keys up
// case-insensitively (the first spelling stays), and switch to a lookup
// map past indexFrom keys without changing any of that.
func TestObjectAPI(t *testing.T) {
	o := NewObject()
	o.Set("Key", 1)
	o.Set("KEY", 2)
	o.Set("list", []int{1, 2})
	if o.Len() != 2 || o.Keys()[0] != "Key" {
		t.Fatalf("keys = %v, want [Key list]", o.Keys())
	}
	data, err := json.Marshal(o)
	if err != nil || string(data) != `{"Key":2,"list":[1,2]}` {
		t.Errorf("json.Marshal = %s, %v", data, err)
	}
	for i := 0; i < 2*indexFrom; i++ {
		o.Set("k"+jsNumberString(float64(i)), i)
	}
	o.Set("Ärger", "x")
	o.Set("K3", "three") // replaces k3, found through the map
	if o.Len() != 3+2*indexFrom {
		t.Errorf("Len = %d, want %d", o.Len(), 3+2*indexFrom)
	}
	for key, want := range map[string]any{"k3": "three", "K15": 15.0, "kEy": 2.0, "äRGER": "x", "ärger": "x"} {
		if v, ok := o.Get(key); !ok || v != want {
			t.Errorf("Get(%q) = %#v, %v; want %#v", key, v, ok, want)
		}
	}
	if _, ok := o.Get("k99"); ok {
		t.Error("Get(k99) found a key that is not there")
	}
	if k := o.Keys()[5]; k != "k3" {
		t.Errorf("key 5 = %q, want k3 (the first spelling)", k)
	}
	if v := o.Values()[5]; v != "three" {
		t.Errorf("value 5 = %#v", v)
	}
}

type point struct {
	X int    `json:"x"`
	Y string `json:"y"`
}

// TestNormalizeKinds: Go values of every common type become expression
// values of the expected kind; already normalized arrays are not copied.
func TestNormalizeKinds(t *testing.T) {
	tests := []struct {
		in   any
		want string // compact JSON
	}{
		{int32(-3), "-3"},
		{uint(3), "3"},
		{uint32(4), "4"},
		{uint64(5), "5"},
		{uint8(6), "6"},
		{float32(1.5), "1.5"},
		{json.Number("1e3"), "1000"},
		{json.RawMessage(`{"b":1,"a":[true]}`), `{"b":1,"a":[true]}`},
		{json.RawMessage(`{`), "null"},
		{point{1, "p"}, `{"x":1,"y":"p"}`},
		{&point{2, "q"}, `{"x":2,"y":"q"}`},
		{[]any{1, "a", []int{2}}, `[1,"a",[2]]`},
		{[]any{1.0, map[string]any{"z": 1, "a": 2}}, `[1,{"a":2,"z":1}]`},
		{map[string]string{"b": "1", "a": "2"}, `{"a":"2","b":"1"}`},
		{[]string{"x", "y"}, `["x","y"]`},
		{filtered{1.0}, `[1]`},
	}
	for _, tt := range tests {
		if got := compactJSON(Normalize(tt.in)); got != tt.want {
			t.Errorf("Normalize(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if k := KindOf(make(chan int)); k != "String" {
		t.Errorf("KindOf(chan) = %s, want String (printed with fmt)", k)
	}
	a := []any{1.0, "x", nil, true, NewObject()}
	if b := Normalize(a).([]any); &b[0] != &a[0] {
		t.Error("Normalize copied an already normalized array")
	}
	mixed := []any{1.0, 2}
	b := Normalize(mixed).([]any)
	if &b[0] == &mixed[0] || mixed[1] != 2 || b[1] != 2.0 {
		t.Errorf("Normalize(%#v) = %#v: want a converted copy, input untouched", mixed, b)
	}
}

// TestTemplateSource: a template keeps its text.
func TestTemplateSource(t *testing.T) {
	const src = "a ${{ 1 }} b"
	tpl, err := ParseTemplate(src)
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Source() != src {
		t.Errorf("Source = %q", tpl.Source())
	}
}
