package serve_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/birdflock/runner/pkg/serve"
)

// A re-run keeps its run's created_at, as on GitHub (run_started_at is
// what resets on a re-run), so the created filter keeps finding a run
// re-run later: `created=<=T` with T between the run's creation and its
// re-run lists it, `created=>T` does not. A re-run's created_at was the
// attempt's, which moved an old run into today's list and out of the
// range it was created in.
func TestRerunKeepsCreatedAt(t *testing.T) {
	s := start(t, serve.Config{}, birds(t, nil), 0)
	id, _, _ := s.dispatch(t, "hello.yaml", map[string]any{"who": "mona"})
	s.done(t, id)
	type times struct {
		ID         int    `json:"id"`
		Attempt    int    `json:"run_attempt"`
		Status     string `json:"status"`
		Created    string `json:"created_at"`
		RunStarted string `json:"run_started_at"`
	}
	var first times
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id), &first)
	time.Sleep(1100 * time.Millisecond) // created_at has whole seconds
	between := time.Now().UTC().Format(time.RFC3339)
	time.Sleep(1100 * time.Millisecond)
	resp, body := do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/rerun", s.URL, id), token, nil)
	must(t, resp.StatusCode == 201, "rerun: %s %s", resp.Status, body)
	s.wait(t, id, "attempt 2", func(r runJSON) bool { return r.RunAttempt == 2 && r.Status == "completed" })
	var second times
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id), &second)
	must(t, second.Attempt == 2 && second.Created == first.Created, "attempt 2's created_at %s, want the run's %s", second.Created, first.Created)
	must(t, second.RunStarted > between, "attempt 2's run_started_at %s, want after %s (it resets on a re-run)", second.RunStarted, between)

	for q, want := range map[string]int{"created=<=" + between: 1, "created=>" + between: 0} {
		l := listRuns(t, s.URL+"/repos/mona/birds/actions/runs?"+q, token, nil)
		must(t, l.resp.StatusCode == 200 && l.Total == want && len(l.Runs) == want, "runs?%s: %s total %d, want %d\n%s", q, l.resp.Status, l.Total, want, l.body)
	}
}

// A page number so large that page × per_page overflows is past the last
// page: an empty list with the total, as every page past the end (it
// wrapped to a negative offset, which SQLite reads as 0: page 1's runs).
func TestRunListHugePageIsPastTheEnd(t *testing.T) {
	s := start(t, serve.Config{}, birds(t, nil), 0)
	id, _, _ := s.dispatch(t, "hello.yaml", map[string]any{"who": "mona"})
	s.done(t, id)
	for _, q := range []string{"page=9223372036854775807", "page=9223372036854775807&per_page=100", "page=3074457345618258603&per_page=3"} {
		l := listRuns(t, s.URL+"/repos/mona/birds/actions/runs?"+q, token, nil)
		must(t, l.resp.StatusCode == 200 && l.Total == 1 && len(l.Runs) == 0, "runs?%s: %s total %d, %d runs, want 1 and none", q, l.resp.Status, l.Total, len(l.Runs))
	}
}

// Every line of a job's log (and of the logs zip) starts with GitHub's
// timestamp, the later lines of a multi-line annotation (%0A) too: `gh
// run view --log` and scripts cut the time off each line. They came
// without it.
func TestJobLogMultiLineAnnotationStamped(t *testing.T) {
	wf := "name: Ann\non: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: |\n" +
		"          echo '::error file=a.go,line=1::first, with: colon%0Asecond line%0Athird line'\n" +
		"          echo '::group::Grouped'\n          echo inside\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/ann.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "ann.yaml", nil)
	s.done(t, id)
	job := attemptJobs(t, s, id, 1)["a"]
	stamped := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z `)
	check := func(what, text string) {
		t.Helper()
		must(t, strings.Contains(text, "Z third line\n") && strings.Contains(text, "##[group]Grouped\n"), "%s lacks the annotation's lines or the group:\n%s", what, text)
		for i, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			must(t, stamped.MatchString(l), "%s line %d has no timestamp: %q\n%s", what, i+1, l, text)
		}
		must(t, strings.Count(text, "Z second line\n") == 1, "%s repeats a line:\n%s", what, text)
	}
	resp, log := do(t, "GET", fmt.Sprintf("%s/repos/mona/birds/actions/jobs/%d/logs", s.URL, job.ID), token, nil)
	must(t, resp.StatusCode == 200, "job log: %s %s", resp.Status, log)
	check("job log", string(log))
	check("logs zip", unzipLogs(t, s, id, 1)["1_a.txt"])
}

// Two lists whose filters differ only in where one value ends and the
// next begins (actor `Bot SHA:1` against actor `Bot` with head_sha `1
// SHA:`) are two pages: the second lists no run. The cache keyed pages by
// the filter printed with %+v, the same text for both, and gave the
// second the first one's run.
func TestRunListCacheKeysFiltersApart(t *testing.T) {
	repo := birds(t, nil)
	wt, err := repo.g.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(repo.dir, "bot.txt"), []byte("x\n"), 0o644)
	wt.Add("bot.txt")
	if _, err := wt.Commit("bot", &git.CommitOptions{Author: &object.Signature{Name: "Bot SHA:1", Email: "bot@example.com", When: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	s := start(t, serve.Config{}, repo, 0)
	id, _, _ := s.dispatch(t, "hello.yaml", map[string]any{"who": "mona"})
	s.done(t, id)
	for _, c := range []struct {
		q    string
		want int
	}{{"actor=Bot+SHA%3A1", 1}, {"actor=Bot&head_sha=1+SHA%3A", 0}} {
		l := listRuns(t, s.URL+"/repos/mona/birds/actions/runs?"+c.q, token, nil)
		must(t, l.resp.StatusCode == 200 && l.Total == c.want && len(l.Runs) == c.want, "runs?%s: %s total %d, %d runs, want %d", c.q, l.resp.Status, l.Total, len(l.Runs), c.want)
	}
}

// Job ids are never given again, as on GitHub: after the run holding the
// newest jobs is deleted, the next run's jobs get new ids and the deleted
// job's id stays 404 (its URL, annotations and log were another run's
// job's after the next run; ids were max(id)+1 of the jobs left).
func TestJobIDsNotReusedAfterDelete(t *testing.T) {
	s := start(t, serve.Config{}, birds(t, nil), 0)
	first, _, _ := s.dispatch(t, "hello.yaml", map[string]any{"who": "mona"})
	s.done(t, first)
	var gone []int64
	for _, j := range attemptJobs(t, s, first, 1) {
		gone = append(gone, j.ID)
	}
	resp, body := do(t, "DELETE", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, first), token, nil)
	must(t, resp.StatusCode == 204, "delete run: %s %s", resp.Status, body)
	next, _, _ := s.dispatch(t, "hello.yaml", map[string]any{"who": "mona"})
	s.done(t, next)
	for name, j := range attemptJobs(t, s, next, 1) {
		for _, old := range gone {
			must(t, j.ID != old, "run %d's job %s got id %d, a deleted run's job's", next, name, j.ID)
		}
	}
	for _, old := range gone {
		resp, body := do(t, "GET", fmt.Sprintf("%s/repos/mona/birds/actions/jobs/%d", s.URL, old), token, nil)
		must(t, resp.StatusCode == 404, "deleted job %d: %s %s", old, resp.Status, body)
	}
}

// A job or step name with characters a file name cannot hold (`/`, `:`,
// ...) names its files in the logs zip without them, as GitHub does (a
// job "cool job / with slash" is the folder "cool job  with slash"), so
// that gh, which looks a failed step's log up by the job's name with `/`
// and `:` taken out (`gh run view --log-failed`, cli/cli#9482), finds it.
// They were replaced by `_`, and gh found no log for such a job.
func TestLogsZipNamesDropUnsafeCharacters(t *testing.T) {
	wf := "name: P\non: workflow_dispatch\njobs:\n  a:\n    name: 'Deploy: prod / eu'\n    runs-on: x\n    steps:\n" +
		"      - name: Hi\n        run: echo hi\n      - name: 'Boom <now>'\n        run: echo boom-line; exit 1\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/p.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "p.yaml", nil)
	s.done(t, id)
	job := attemptJobs(t, s, id, 1)["Deploy: prod / eu"]
	must(t, len(job.Steps) == 2, "job: %+v", job)
	files := unzipLogs(t, s, id, 1)
	// gh's lookup of the failed step (step 2) in the zip.
	ghName := strings.NewReplacer("/", "", ":", "").Replace(job.Name)
	re := regexp.MustCompile(regexp.QuoteMeta(ghName) + `/2_.*\.txt`)
	found := ""
	for name, text := range files {
		if re.MatchString(name) {
			found = text
		}
	}
	must(t, strings.Contains(found, "Z boom-line\n"), "no file for %q step 2 in the zip (%v)", ghName, keys(files))
	_, ok := files["Deploy prod  eu/2_Boom now.txt"]
	must(t, ok && strings.Contains(files["1_Deploy prod  eu.txt"], "Z boom-line\n"), "zip files %v, want 1_Deploy prod  eu.txt and Deploy prod  eu/2_Boom now.txt", keys(files))
}

// A job's log after its run's logs were deleted is 410 Gone, as the run's
// logs zip is: `gh run view --log --job` says so instead of printing
// nothing and exiting 0 (it was 200 with an empty body).
func TestJobLogGoneAfterLogsDeleted(t *testing.T) {
	s := start(t, serve.Config{}, birds(t, nil), 0)
	id, _, _ := s.dispatch(t, "hello.yaml", map[string]any{"who": "mona"})
	s.done(t, id)
	job := attemptJobs(t, s, id, 1)["greet"]
	url := fmt.Sprintf("%s/repos/mona/birds/actions/jobs/%d/logs?text=1", s.URL, job.ID)
	resp, body := do(t, "GET", url, token, nil)
	must(t, resp.StatusCode == 200 && strings.Contains(string(body), "hello mona"), "job log: %s %s", resp.Status, body)
	resp, body = do(t, "DELETE", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/logs", s.URL, id), token, nil)
	must(t, resp.StatusCode == 204, "delete logs: %s %s", resp.Status, body)
	resp, body = do(t, "GET", url, token, nil)
	must(t, resp.StatusCode == 410 && strings.Contains(string(body), "deleted"), "job log after the logs were deleted: %s %q, want 410", resp.Status, body)
}

// The run page lists every step of a job in workflow order, a step its
// `if:` skipped among them (as GitHub shows it, skipped, where it is in
// the job), not only the steps after the last one that ran. It was left
// out: the page showed Hi, Boom, After.
func TestRunPageShowsStepSkippedByIf(t *testing.T) {
	wf := "name: P\non: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n" +
		"      - name: Skip me\n        if: false\n        run: echo skipped\n      - name: Hi\n        run: echo hi\n" +
		"      - name: Not now\n        if: false\n        run: echo no\n      - name: Boom\n        run: exit 1\n      - name: After\n        run: echo after\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/p.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "p.yaml", nil)
	s.done(t, id)
	view := s.run(t, id)
	must(t, len(view.Jobs) == 1, "jobs: %+v", view.Jobs)
	var got []string
	for _, st := range view.Jobs[0].Steps {
		c := "-"
		if st.Conclusion != nil {
			c = *st.Conclusion
		}
		got = append(got, st.Name+":"+c)
	}
	want := "Skip me:skipped,Hi:success,Not now:skipped,Boom:failure,After:skipped"
	must(t, strings.Join(got, ",") == want, "run page's steps %s, want %s", strings.Join(got, ","), want)
}

// The actor filter ignores case, as GitHub's logins do (the run list's
// URL takes mona/birds and Mona/Birds alike): actor=mona lists Mona's
// runs, in a kept page too after another run of hers. It listed none.
func TestRunListActorIgnoresCase(t *testing.T) {
	s := start(t, serve.Config{}, birds(t, nil), 0)
	id, _, _ := s.dispatch(t, "hello.yaml", map[string]any{"who": "mona"})
	s.done(t, id)
	for n, q := range []string{"actor=mona", "actor=MONA", "actor=Mona"} {
		l := listRuns(t, s.URL+"/repos/mona/birds/actions/runs?"+q, token, nil)
		want := min(n+1, 2)
		must(t, l.resp.StatusCode == 200 && l.Total == want && len(l.Runs) == want, "runs?%s: %s total %d, want %d", q, l.resp.Status, l.Total, want)
		if n == 0 {
			next, _, _ := s.dispatch(t, "hello.yaml", map[string]any{"who": "mona"})
			s.done(t, next)
			l = listRuns(t, s.URL+"/repos/mona/birds/actions/runs?"+q, token, nil)
			must(t, l.Total == 2 && len(l.Runs) == 2, "runs?%s after a second run: total %d", q, l.Total)
		}
	}
	l := listRuns(t, s.URL+"/repos/mona/birds/actions/runs?actor=monb", token, nil)
	must(t, l.resp.StatusCode == 200 && l.Total == 0, "runs?actor=monb: total %d", l.Total)
}

// A workflow disabled while another call reads it stays disabled: a read
// that began before the disable and ends after it must not put the
// enabled workflow back into the server's cache, which the disable
// cleared (dispatches and pushes then ran the disabled workflow, and its
// state read "active", until the next enable or disable).
func TestWorkflowDisableNotUndoneByConcurrentRead(t *testing.T) {
	s := start(t, serve.Config{}, birds(t, nil), 0)
	base := s.URL + "/repos/mona/birds/actions/workflows"
	resp, _ := do(t, "PUT", base+"/hello.yaml/enable", token, nil)
	must(t, resp.StatusCode == 204, "enable: %s", resp.Status)
	read, resume := make(chan struct{}), make(chan struct{})
	var first atomic.Bool // only the GET's read waits (the disable's own read passes)
	restore := serve.SetWorkflowReadHook(func() {
		if first.CompareAndSwap(false, true) {
			close(read)
			<-resume
		}
	})
	defer restore()
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(t, "GET", base+"/hello.yaml", token, nil)
	}()
	<-read // the GET has read the workflow, enabled, and waits to keep it
	resp, _ = do(t, "PUT", base+"/hello.yaml/disable", token, nil)
	must(t, resp.StatusCode == 204, "disable: %s", resp.Status)
	close(resume)
	<-done
	var wf struct {
		State string `json:"state"`
	}
	getJSON(t, base+"/hello.yaml", &wf)
	must(t, wf.State == "disabled_manually", "the workflow just disabled reads %q", wf.State)
	_, resp, body := s.dispatch(t, "hello.yaml", map[string]any{"who": "mona"})
	must(t, resp.StatusCode == 422, "dispatch of the disabled workflow: %s %s", resp.Status, body)
}
