package serve_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// keptWF's check fails until the flag file exists; build writes a line and
// an annotation that its kept copies must show.
const keptWF = `name: Kept
on: workflow_dispatch
jobs:
  build:
    runs-on: x
    steps:
      - name: Make
        run: |
          echo kept-line-from-attempt-1
          echo "::warning title=Heads up,file=src/a b.go,line=2::kept warning"
      - name: Pack
        run: echo packed
  check:
    needs: build
    runs-on: x
    steps:
      - name: Flaky
        run: test -e %s/fixed
`

type apiJob struct {
	ID         int64   `json:"id"`
	Name       string  `json:"name"`
	Conclusion *string `json:"conclusion"`
	StartedAt  string  `json:"started_at"`
	Completed  *string `json:"completed_at"`
	Attempt    int     `json:"run_attempt"`
	Steps      []struct {
		Name       string  `json:"name"`
		Conclusion *string `json:"conclusion"`
	} `json:"steps"`
}

func (j apiJob) steps() string {
	var out []string
	for _, st := range j.Steps {
		c := "-"
		if st.Conclusion != nil {
			c = *st.Conclusion
		}
		out = append(out, st.Name+":"+c)
	}
	return strings.Join(out, ",")
}

func attemptJobs(t *testing.T, s *testServer, id, attempt int) map[string]apiJob {
	t.Helper()
	var list struct {
		Jobs []apiJob `json:"jobs"`
	}
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/attempts/%d/jobs", s.URL, id, attempt), &list)
	out := map[string]apiJob{}
	for _, j := range list.Jobs {
		out[j.Name] = j
	}
	return out
}

// unzipLogs reads a run attempt's logs zip into file name → text.
func unzipLogs(t *testing.T, s *testServer, id, attempt int) map[string]string {
	t.Helper()
	resp, body := do(t, "GET", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/attempts/%d/logs", s.URL, id, attempt), token, nil)
	must(t, resp.StatusCode == 200, "logs zip of attempt %d: %s %s", attempt, resp.Status, body)
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("logs zip of attempt %d: %v", attempt, err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = string(data)
	}
	return out
}

// A job a re-run keeps (re-run failed jobs, re-run one job) is shown in the
// new attempt as GitHub shows it: with its steps, conclusion, times, log
// and annotations copied from the attempt it comes from, in the jobs list,
// the job, its log, the attempt's logs zip, its check run's annotations and
// the run page's view. It had no step and no log there.
func TestRerunKeptJobsInNewAttempt(t *testing.T) {
	flag := t.TempDir()
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/kept.yaml": fmt.Sprintf(keptWF, flag)}), 0)
	id, _, _ := s.dispatch(t, "kept.yaml", nil)
	must(t, s.done(t, id).conclusion() == "failure", "attempt 1 did not fail")
	first := attemptJobs(t, s, id, 1)["build"]
	must(t, first.steps() == "Make:success,Pack:success", "attempt 1's build: %+v", first)

	os.WriteFile(filepath.Join(flag, "fixed"), nil, 0o644)
	resp, body := do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/rerun-failed-jobs", s.URL, id), token, nil)
	must(t, resp.StatusCode == 201, "rerun-failed-jobs: %s %s", resp.Status, body)
	s.wait(t, id, "attempt 2", func(r runJSON) bool { return r.RunAttempt == 2 && r.Status == "completed" })

	check := func(attempt int) {
		t.Helper()
		jobs := attemptJobs(t, s, id, attempt)
		kept, ran := jobs["build"], jobs["check"]
		must(t, kept.ID != 0 && kept.ID != first.ID && kept.Attempt == attempt, "attempt %d's build: %+v, want a job of its own", attempt, kept)
		must(t, kept.steps() == "Make:success,Pack:success" && kept.Conclusion != nil && *kept.Conclusion == "success",
			"attempt %d's kept build: steps %q conclusion %v, want attempt 1's", attempt, kept.steps(), kept.Conclusion)
		must(t, kept.StartedAt == first.StartedAt && kept.Completed != nil && *kept.Completed == *first.Completed,
			"attempt %d's kept build ran %s..%v, want attempt 1's %s..%v", attempt, kept.StartedAt, kept.Completed, first.StartedAt, first.Completed)
		must(t, ran.steps() == "Flaky:success", "attempt %d's check: %q", attempt, ran.steps())

		var one apiJob
		getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/jobs/%d", s.URL, kept.ID), &one)
		must(t, one.steps() == kept.steps(), "GET jobs/%d: steps %q", kept.ID, one.steps())
		resp, log := do(t, "GET", fmt.Sprintf("%s/repos/mona/birds/actions/jobs/%d/logs", s.URL, kept.ID), token, nil)
		must(t, resp.StatusCode == 200 && strings.Contains(string(log), "Z kept-line-from-attempt-1\n") && strings.Contains(string(log), "##[group]Pack"),
			"attempt %d's kept build's log: %s\n%s", attempt, resp.Status, log)

		files := unzipLogs(t, s, id, attempt)
		must(t, strings.Contains(files["1_build.txt"], "kept-line-from-attempt-1") && strings.Contains(files["build/1_Make.txt"], "kept-line-from-attempt-1"),
			"attempt %d's logs zip lacks the kept build's lines: %v", attempt, files)

		var anns []struct {
			Path    string  `json:"path"`
			Title   *string `json:"title"`
			Message string  `json:"message"`
		}
		getJSON(t, fmt.Sprintf("%s/repos/mona/birds/check-runs/%d/annotations", s.URL, kept.ID), &anns)
		must(t, len(anns) == 1 && anns[0].Path == "src/a b.go" && anns[0].Title != nil && *anns[0].Title == "Heads up" && anns[0].Message == "kept warning",
			"attempt %d's kept build's annotations: %+v", attempt, anns)

		var view runJSON
		getJSON(t, fmt.Sprintf("%s/api/runs/%d/attempts/%d", s.URL, id, attempt), &view)
		var names []string
		for _, j := range view.Jobs {
			if j.Name == "build" {
				for _, st := range j.Steps {
					names = append(names, st.Name+":"+st.Status)
				}
			}
		}
		must(t, strings.Join(names, ",") == "Make:completed,Pack:completed", "run page's attempt %d build steps: %v", attempt, names)
	}
	check(2)

	// Re-running one job keeps build again, now from attempt 2's copy.
	resp, body = do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/jobs/%d/rerun", s.URL, attemptJobs(t, s, id, 2)["check"].ID), token, nil)
	must(t, resp.StatusCode == 201, "rerun one job: %s %s", resp.Status, body)
	s.wait(t, id, "attempt 3", func(r runJSON) bool { return r.RunAttempt == 3 && r.Status == "completed" })
	check(3)
}

// legsWF's matrix job m comes after last in the file and before it in the
// graph; its legs sleep in different amounts and start together.
const legsWF = `name: Legs
on: workflow_dispatch
jobs:
  last:
    needs: m
    runs-on: x
    steps:
      - run: echo done
  m:
    runs-on: x
    strategy:
      matrix:
        os: [linux, mac]
        n: [3, 2, 1]
    steps:
      - run: sleep 0.${{ matrix.n }}
`

// Jobs are listed as GitHub lists them, in workflow order with a matrix
// job's legs in the order of its expansion, whatever order the legs
// started in: in the jobs API, the run page's view and the logs zip. They
// were listed in the order they started.
// legsOrder is legsWF's jobs as GitHub lists them.
var legsOrder = []string{"last", "m (linux, 3)", "m (linux, 2)", "m (linux, 1)", "m (mac, 3)", "m (mac, 2)", "m (mac, 1)"}

// legsOutOfOrder runs legsWF until its legs started in another order than
// the expansion's, the case to check (the usual one: they start at once,
// in an order of the scheduler's), and returns that run's id.
func legsOutOfOrder(t *testing.T, s *testServer) int {
	t.Helper()
	legs := strings.Join(legsOrder[1:], ",")
	for try := 0; try < 10; try++ {
		id, _, _ := s.dispatch(t, "legs.yaml", nil)
		must(t, s.done(t, id).conclusion() == "success", "run %d failed:\n%s", id, s.logText(t, id))
		var order []string
		for _, l := range strings.Split(s.logText(t, id), "\n") {
			if key, _, ok := strings.Cut(l, " ▶ job "); ok && strings.HasPrefix(key, "m (") {
				order = append(order, key)
			}
		}
		if started := strings.Join(order, ","); started != legs {
			t.Logf("run %d: legs started in the order %s", id, started)
			return id
		}
	}
	t.Fatalf("the legs started in expansion order in 10 runs: nothing to check")
	return 0
}

func TestMatrixLegsInWorkflowOrder(t *testing.T) {
	s := start(t, serve.Config{Capacity: 6, Jobs: 6}, birds(t, map[string]string{".github/workflows/legs.yaml": legsWF}), 0)
	want := legsOrder
	id := legsOutOfOrder(t, s)

	var list struct {
		Jobs []apiJob `json:"jobs"`
	}
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/jobs", s.URL, id), &list)
	var got []string
	for _, j := range list.Jobs {
		got = append(got, j.Name)
	}
	must(t, strings.Join(got, ",") == strings.Join(want, ","), "jobs API order %v, want %v", got, want)

	view := s.run(t, id)
	got = nil
	for _, j := range view.Jobs {
		got = append(got, j.Name)
	}
	must(t, strings.Join(got, ",") == strings.Join(want, ","), "run page's order %v, want %v", got, want)

	files := unzipLogs(t, s, id, 1)
	for i, name := range want {
		_, ok := files[fmt.Sprintf("%d_%s.txt", i+1, name)]
		must(t, ok, "logs zip has no %d_%s.txt: %v", i+1, name, keys(files))
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// An annotation keeps every property its command gave, as GitHub's
// check-run annotations have them: title, a file name with a space,
// endLine, col and endColumn (they were lost by reading the annotation
// back from its log line).
func TestAnnotationProperties(t *testing.T) {
	wf := "name: Ann\non: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: |\n" +
		"          echo '::error title=Sizes differ,file=src/a b.go,line=3,endLine=5,col=1,endColumn=4::msg here'\n" +
		"          echo '::notice file=x.go,line=7,col=2::note'\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/ann.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "ann.yaml", nil)
	s.done(t, id)
	job := attemptJobs(t, s, id, 1)["a"]
	resp, body := do(t, "GET", fmt.Sprintf("%s/repos/mona/birds/check-runs/%d/annotations", s.URL, job.ID), token, nil)
	must(t, resp.StatusCode == 200, "annotations: %s %s", resp.Status, body)
	var anns []map[string]any
	json.Unmarshal(body, &anns)
	must(t, len(anns) == 2, "annotations: %s", body)
	got := func(a map[string]any) string {
		return fmt.Sprintf("%v|%v|%v|%v|%v|%v|%v|%v", a["annotation_level"], a["title"], a["path"], a["start_line"], a["end_line"], a["start_column"], a["end_column"], a["message"])
	}
	for i, want := range []string{"failure|Sizes differ|src/a b.go|3|5|1|4|msg here", "notice|<nil>|x.go|7|7|2|2|note"} {
		must(t, got(anns[i]) == want, "annotation %d: %s, want %s", i, got(anns[i]), want)
	}
	must(t, strings.HasSuffix(anns[0]["blob_href"].(string), "/mona/birds/blob/"+s.run(t, id).HeadSHA+"/src/a b.go"), "blob_href %v", anns[0]["blob_href"])
}
