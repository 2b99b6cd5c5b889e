package expr

import "testing"

// Comparisons lists every comparison, outer first, with its operands;
// Compare applies GitHub's coercions as the evaluator does.
func TestComparisonsAndCompare(t *testing.T) {
	n, err := Parse("(a.b == 1) != (c < 'x') || !(d >= null)")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range Comparisons(n) {
		got = append(got, c.Left.String()+" "+c.Op+" "+c.Right.String())
	}
	want := []string{"(a.b == 1) != (c < 'x')", "a.b == 1", "c < 'x'", "d >= null"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("comparison %d: got %q, want %q", i, got[i], want[i])
		}
	}
	for _, tc := range []struct {
		op   string
		l, r any
		want bool
	}{
		{"==", "1", 1.0, true},         // the string becomes a number
		{"==", "true", true, false},    // true is 1, 'true' is NaN
		{"==", "", nil, true},          // both 0
		{"==", "ABC", "abc", true},     // strings ignore case
		{"==", NewObject(), "", false}, // objects equal only themselves
		{">=", "linux", 3.0, false},
		{"!=", []any{1.0}, 1.0, true},
	} {
		if got := Compare(tc.op, tc.l, tc.r); got != tc.want {
			t.Errorf("%v %s %v = %v, want %v", tc.l, tc.op, tc.r, got, tc.want)
		}
	}
	if v, ok := LiteralValue(mustParseT(t, "((1.5))")); !ok || v != 1.5 {
		t.Errorf("LiteralValue((1.5)) = %v, %v", v, ok)
	}
	if name, args, ok := CallOf(mustParseT(t, "(fromJSON('[1]'))")); !ok || name != "fromjson" || len(args) != 1 {
		t.Errorf("CallOf = %q, %d, %v", name, len(args), ok)
	}
	if !IsBoolean(mustParseT(t, "(!a)")) || IsBoolean(mustParseT(t, "a && b")) {
		t.Error("IsBoolean: a ! is a boolean, && gives one of its operands")
	}
}

func mustParseT(t *testing.T, src string) Node {
	t.Helper()
	n, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
