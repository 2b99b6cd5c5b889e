package run_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// An ::error's properties reach the observer as they were written (title,
// a file name with a space, endLine, col, endColumn), masked, besides the
// one-line text the console prints; a problem matcher's match gives its
// file, line and column the same way.
func TestAnnotationEventProperties(t *testing.T) {
	var mu sync.Mutex
	var got []run.Issue
	obs := run.ObserverFunc(func(e run.Event) {
		if e.Kind == run.Annotation {
			mu.Lock()
			defer mu.Unlock()
			if e.Annotation == nil {
				t.Errorf("annotation %q without its properties", e.Text)
				return
			}
			got = append(got, *e.Annotation)
		}
	})
	runWF(t, context.Background(), `
on: push
jobs:
  a:
    runs-on: x
    steps:
`+matchersStep(t)+`
      - run: |
          echo "::error title=Bad sizes,file=src/a b.go,line=3,endLine=5,col=1,endColumn=4::msg with s3cr3t"
          echo "::warning line=x::no file"
          printf 'package main\n' > main.go
          echo "::add-matcher::.matchers/setup-go.json"
          echo "./main.go:1:7: from a matcher"
`, run.Trigger{}, run.Options{Observer: obs, Secrets: map[string]string{"S": "s3cr3t"}})
	want := []run.Issue{
		{Level: "error", Message: "msg with ***", Title: "Bad sizes", File: "src/a b.go", Line: 3, EndLine: 5, Col: 1, EndColumn: 4},
		{Level: "warning", Message: "no file"},
		{Level: "error", Message: "from a matcher", File: "main.go", Line: 1, Col: 7},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("annotations\n%+v\nwant\n%+v", got, want)
	}
}

// JobStarted and JobEnded carry each matrix leg's index in the expansion
// (not the order legs start in), and a job kept from an earlier attempt
// ends Kept.
func TestJobEventsLegAndKept(t *testing.T) {
	var mu sync.Mutex
	legs := map[string]string{}
	kept := map[string]bool{}
	obs := run.ObserverFunc(func(e run.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case run.JobStarted:
			legs[e.Job] += fmt.Sprintf("start %d;", e.Leg)
		case run.JobEnded:
			legs[e.Job] += fmt.Sprintf("end %d;", e.Leg)
			kept[e.Job] = e.Kept
		}
	})
	runWF(t, context.Background(), `
on: push
jobs:
  old:
    runs-on: x
    steps:
      - run: echo never
  m:
    runs-on: x
    strategy:
      matrix:
        n: [3, 1, 2]
    steps:
      - run: sleep 0.${{ matrix.n }}
`, run.Trigger{}, run.Options{Observer: obs, Parallel: 1,
		Reuse: map[string]run.Reused{"old": {Result: "success"}}})
	want := map[string]string{"old": "start 0;end 0;", "m (3)": "start 0;end 0;", "m (1)": "start 1;end 1;", "m (2)": "start 2;end 2;"}
	if fmt.Sprint(legs) != fmt.Sprint(want) {
		t.Errorf("legs %v, want %v", legs, want)
	}
	if !kept["old"] || kept["m (1)"] {
		t.Errorf("kept %v, want old alone", kept)
	}
}
