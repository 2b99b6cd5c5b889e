package serve

import (
	"reflect"
	"testing"
)

// TestJobLogGroups: a step's ::group:: and ::endgroup:: are written in a
// job's plain-text log as GitHub writes them (##[group]/##[endgroup]), so
// gh run view --log and log viewers fold them.
func TestJobLogGroups(t *testing.T) {
	events := []LogEvent{
		{Kind: "start", Scope: "step", Step: "Deps"},
		{Kind: "line", Step: "Deps", Text: "▸ Fetch deps"},
		{Kind: "line", Step: "Deps", Text: "dep-one"},
		{Kind: "endgroup", Step: "Deps"},
		{Kind: "line", Step: "Deps", Text: "after"},
		{Kind: "line", Text: "▸ a job-level line is not a group"},
	}
	var got []string
	for _, ev := range events {
		got = append(got, jobLogLines(ev)...)
	}
	want := []string{"##[group]Deps", "##[endgroup]", "##[group]Fetch deps", "dep-one", "##[endgroup]", "after", "▸ a job-level line is not a group"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("job log lines\n%q\nwant\n%q", got, want)
	}
}
