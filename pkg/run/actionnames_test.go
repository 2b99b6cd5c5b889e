package run

import (
	"fmt"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/workflow"
)

// GITHUB_ACTION of a step without an id is the name GitHub's workflow
// parser generates (WorkflowTemplateConverter, IdBuilder): __self for a
// ./path action, __owner_repo for owner/repo[/path]@ref (the path is not
// part of it), __IMAGE for docker://, __run for a script; characters other
// than letters, digits, _ and - become _; a name an earlier step took
// (compared case-insensitively) gets _2, _3 ….
func TestActionNamesAreGitHubs(t *testing.T) {
	var b strings.Builder
	b.WriteString("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n")
	steps := []string{
		"{uses: ./.github/actions/setup}",
		"{uses: ./other/action}",
		"{uses: nektos/act-test-actions/script@main}",
		"{uses: nektos/act-test-actions/js@main}",
		"{uses: actions/setup.node@v4}",
		"{uses: 'docker://alpine:3.8'}",
		"{run: 'true'}",
		"{run: 'true'}",
		"{uses: Alice/Hello@v1}",
		"{uses: alice/hello@v2}",
		"{id: mine, uses: ./x}",
	}
	for _, s := range steps {
		fmt.Fprintf(&b, "      - %s\n", s)
	}
	w, errs := workflow.Parse("w.yml", []byte(b.String()))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := actionNames(w.Jobs[0].Steps)
	want := []string{"__self", "__self_2", "__nektos_act-test-actions", "__nektos_act-test-actions_2", "__actions_setup_node", "__alpine_3_8", "__run", "__run_2", "__Alice_Hello", "__alice_hello_2", "mine"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("names\n got %v\nwant %v", got, want)
	}
}
