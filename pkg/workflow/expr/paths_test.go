package expr

import (
	"strconv"
	"strings"
	"testing"
)

func TestPaths(t *testing.T) {
	for src, want := range map[string]string{
		"github.event.issue.title":                       "github.event.issue.title@0",
		"github.event['pull_request'].HEAD.ref":          "github.event.pull_request.head.ref@0",
		"github.event.commits[0].message":                "github.event.commits.*.message@0",
		"github.event.commits.*.message":                 "github.event.commits.*.message@0",
		"format('{0}', inputs.name) && !github.head_ref": "inputs.name@14|github.head_ref@31",
		"toJSON(github.event.pages[inputs.i]).x":         "inputs.i@26|github.event.pages.*@7",
		"fromJSON(steps.a.outputs.j).title":              "steps.a.outputs.j@9",
		"1 == 2":                                         "",
	} {
		n, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range Paths(n) {
			got = append(got, p.String()+"@"+strconv.Itoa(p.Offset))
		}
		if g := strings.Join(got, "|"); g != want {
			t.Errorf("%s: got %s, want %s", src, g, want)
		}
	}
}

// RefsAt gives a call's arguments, and Literal the value of the literal
// ones.
func TestRefsArgsLiteral(t *testing.T) {
	n, err := Parse("format('{0}', github.sha, 2, null)")
	if err != nil {
		t.Fatal(err)
	}
	refs := RefsAt(n)
	if len(refs) != 2 || !refs[0].Func || len(refs[0].Args) != 4 {
		t.Fatalf("refs %+v", refs)
	}
	var got []any
	for _, a := range refs[0].Args {
		v, ok := Literal(a)
		got = append(got, v, ok)
	}
	want := []any{"{0}", true, nil, false, 2.0, true, nil, true}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("literals %v, want %v", got, want)
		}
	}
}
