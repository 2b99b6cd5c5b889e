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
