package expr

import "testing"

// Property and index access: keys are coerced to strings for objects and
// looked up case-insensitively; positions are coerced to numbers (and
// truncated) for arrays; anything missing is null.
var indexCases = []semCase{
	{"obj.a", "1"},
	{"OBJ.A", "1"},
	{"obj.b", `"two"`},
	{"obj['B']", `"two"`},
	{"obj[1]", `"one"`},
	{"obj[1.0]", `"one"`},
	{"obj['1.0']", "null"},
	{"obj[1.5]", `"f"`},
	{"obj[true]", `"T"`},
	{"obj[null]", `"E"`},
	{"obj['']", `"E"`},
	{"obj.x-y", `"dash"`},
	{"obj['X-Y']", `"dash"`},
	{"obj['üNÏ']", `"u"`},
	{"obj.true", `"T"`},
	{"obj.null", `"N"`},
	{"obj[arr]", "null"},
	{"obj.nope", "null"},
	{"obj.nope.deeper", "null"},
	{"obj.a.b", "null"},
	{"obj[format('{0}', 'A')]", "1"},
	{"arr[0]", `"zero"`},
	{"arr['1']", `"one"`},
	{"arr[' 2 ']", `"two"`},
	{"arr[1.9]", `"one"`},
	{"arr[true]", `"one"`},
	{"arr[false]", `"zero"`},
	{"arr[null]", `"zero"`},
	{"arr[-1]", "null"},
	{"arr[3]", "null"},
	{"arr[1e10]", "null"},
	{"arr[Infinity]", "null"},
	{"arr[NaN]", "null"},
	{"arr['a']", "null"},
	{"arr[arr]", "null"},
	{"arr[obj.a]", `"one"`},
	{"arr.length", "null"},
	{"('abc')[0]", "null"},
	{"('abc').length", "null"},
	{"nested[0].name", `"a"`},
	{"nested[0].V[1]", "2"},
	{"nested[3].name", "null"},
	{"fromJSON('{\"a\":{\"b\":[10,20]}}').A.B[1]", "20"},
	{"big.k8", "8"},
	{"big.K8", "8"},
	{"big['äÖ']", `"umlaut"`},
	{"big.K0", "0"}, // a later key differing only in case does not replace the first
	{"big.nope", "null"},
	// Object filters: .* and [*] give the values of an object or the
	// items of an array; an index after a filter applies to every item
	// and drops those it does not fit.
	{"obj.*", `[1,"two","one","T","N","E","f","dash","u"]`},
	{"arr.*", `["zero","one","two"]`},
	{"arr[*]", `["zero","one","two"]`},
	{"empty.*", `[]`},
	{"nested.*.name", `["a","b"]`},
	{"nested[*].NAME", `["a","b"]`},
	{"nested.*['name']", `["a","b"]`},
	{"nested.*.v", `[[1,2],[3]]`},
	{"nested.*.v.*", `[1,2,3]`},
	{"nested.*.v[*]", `[1,2,3]`},
	{"nested.*.v[0]", `[1,3]`},
	{"nested.*.v[5]", `[]`},
	{"nested.*.*", `["a",[1,2],"b",[3],1]`},
	{"nested.*.v.*[0]", `[]`},
	{"obj.a.*", `[]`},
	{"obj.nope.*", `[]`},
	{"('abc').*", `[]`},
	{"big.*[0]", `[]`},
	{"nested.*.name[0]", `[]`},
	{"nested.*[arr]", `[]`},
	{"count(nested.*.name)", "2"},
	{"count(obj.*)", "9"},
	{"count(arr)", "3"},
	{"count(s)", "-1"},
}

// && and || return one of their operands (the first falsy one, or the
// last, for &&; the first truthy one, or the last, for ||) and evaluate
// no further than needed; ! gives a boolean. Falsy: null, false, 0, NaN
// and ""; empty arrays and objects are truthy.
var logicalCases = []semCase{
	{"1 && 'a'", `"a"`},
	{"0 && 'a'", "0"},
	{"'' && 'a'", `""`},
	{"null && 1", "null"},
	{"NaN && 1", "NaN"},
	{"1 && 2 && 3", "3"},
	{"1 && 0 && 3", "0"},
	{"'a' || 'b'", `"a"`},
	{"0 || ''", `""`},
	{"null || 0 || 'z'", `"z"`},
	{"false || null", "null"},
	{"NaN || 'x'", `"x"`},
	{"fromJSON('[]') && 'x'", `"x"`},
	{"empty || 1", "{}"},
	{"s || n", `"text"`},
	{"false && fromJSON('')", "false"},
	{"true || fromJSON('')", "true"},
	{"true || false && false", "true"},
	{"(true || false) && false", "false"},
	{"false && true || true", "true"},
	{"1 == 1 && 2 > 1", "true"},
	{"!true == false", "true"},
	{"!(1 == 2)", "true"},
	{"!0", "true"},
	{"!1", "false"},
	{"!-1", "false"},
	{"!''", "true"},
	{"!'0'", "false"},
	{"!'false'", "false"},
	{"!NaN", "true"},
	{"!null", "true"},
	{"!!'a'", "true"},
	{"!!!'a'", "false"},
	{"!fromJSON('[]')", "false"},
	{"!empty", "false"},
	{"!obj.nope", "true"},
}

func TestSemanticsIndex(t *testing.T)   { runSem(t, indexCases) }
func TestSemanticsLogical(t *testing.T) { runSem(t, logicalCases) }

// TestSemanticsArgsNotModified: an expression never changes the contexts
// it reads (filters copy, functions do not sort or append in place).
func TestSemanticsArgsNotModified(t *testing.T) {
	env := semEnv(t)
	before := compactJSON(env.Contexts["nested"]) + compactJSON(env.Contexts["obj"]) + compactJSON(env.Contexts["arr"])
	for _, src := range []string{"nested.*.v.*", "join(nested.*.name)", "toJSON(obj.*)", "count(arr.*)", "obj.*[0]"} {
		n, err := ParseWith(src, ParseOptions{Funcs: semFuncs})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Eval(n, env); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
	}
	if after := compactJSON(env.Contexts["nested"]) + compactJSON(env.Contexts["obj"]) + compactJSON(env.Contexts["arr"]); after != before {
		t.Errorf("contexts changed: %s, was %s", after, before)
	}
}

// TestSemanticsObjectKeyCase: object keys match when JavaScript's
// toLowerCase makes them equal (as GitHub's dictionaries compare them),
// whatever the size of the object.
func TestSemanticsObjectKeyCase(t *testing.T) {
	tests := []struct {
		key, lookup string
		found       bool
	}{
		{"a", "A", true},
		{"Äb", "äB", true},
		{"Σ", "σ", true},
		{"ΑΣ", "ας", true}, // a final Σ lower-cases to ς
		{"ΑΣ", "ασ", false},
		{"Σ", "ς", false},
		{"σ", "ς", false},
		{"s", "ſ", false}, // the long s has no lower-case mapping to s
		{"ſ", "S", false},
		{"\u212a", "k", true}, // the Kelvin sign lower-cases to k
		{"\u212a", "K", true},
		{"İ", "i\u0307", true},
		{"İ", "i", false},
		{"I", "ı", false},
		{"ß", "ẞ", true},
		{"ß", "SS", false},
	}
	for _, tt := range tests {
		for _, size := range []int{1, indexFrom + 2} {
			o := NewObject()
			o.Set(tt.key, 1)
			for i := 1; i < size; i++ {
				o.Set("other"+jsNumberString(float64(i)), 0)
			}
			n, err := Parse("o['" + tt.lookup + "']")
			if err != nil {
				t.Fatal(err)
			}
			v, err := Eval(n, &Env{Contexts: map[string]any{"o": o}})
			if err != nil {
				t.Fatal(err)
			}
			if found := v == 1.0; found != tt.found {
				t.Errorf("object of %d keys with key %q: [%q] = %v, want found=%v", size, tt.key, tt.lookup, v, tt.found)
			}
		}
	}
}
