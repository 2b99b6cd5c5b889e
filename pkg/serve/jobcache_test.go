package serve_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// A job restored from the job cache (docs/cache.md) shows in the GitHub
// API and the web UI as a job that succeeded with one step naming the run
// that stored the result, by the run id users see, and the key; a job that
// ran shows its own steps. The job reads github.run_attempt, so a re-run
// misses and stores under a run record whose number is not the run's id.
func TestServeJobCache(t *testing.T) { testServeJobCache(t, false) }

// TestOctokitJobCache is TestServeJobCache read through GitHub's REST
// client as well: the restored job and its step are valid against
// GitHub's OpenAPI description of the jobs endpoints.
func TestOctokitJobCache(t *testing.T) { testServeJobCache(t, true) }

func testServeJobCache(t *testing.T, octokit bool) {
	var modules string
	if octokit {
		modules = octokitModules(t)
	}
	wf := "on: workflow_dispatch\njobs:\n  build:\n    runs-on: x\n    env:\n      RUNNER_CACHE: 'paths: back-end/**'\n" +
		"    outputs:\n      v: ${{ steps.v.outputs.v }}\n    steps:\n" +
		"      - id: v\n        run: echo \"v=built in attempt ${{ github.run_attempt }}\" >> \"$GITHUB_OUTPUT\"\n" +
		"  after:\n    needs: build\n    runs-on: x\n    steps:\n      - run: echo \"got ${{ needs.build.outputs.v }}\"\n"
	state := filepath.Join(t.TempDir(), "state")
	s := start(t, serve.Config{State: state}, birds(t, map[string]string{".github/workflows/cache.yaml": wf}), 0)
	rerun := func(id int) {
		t.Helper()
		resp, body := do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/rerun", s.URL, id), token, nil)
		must(t, resp.StatusCode == 201, "rerun %d: %s %s", id, resp.Status, body)
		s.wait(t, id, "attempt 2", func(r runJSON) bool { return r.RunAttempt == 2 && r.Status == "completed" })
	}
	type jobJSON struct {
		Name       string  `json:"name"`
		Conclusion *string `json:"conclusion"`
		Steps      []struct {
			Name       string  `json:"name"`
			Conclusion *string `json:"conclusion"`
		} `json:"steps"`
	}
	jobs := func(id, attempt int) map[string]jobJSON {
		t.Helper()
		var list struct{ Jobs []jobJSON }
		getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/attempts/%d/jobs", s.URL, id, attempt), &list)
		out := map[string]jobJSON{}
		for _, j := range list.Jobs {
			must(t, j.Conclusion != nil && *j.Conclusion == "success", "run %d attempt %d: job %s: %+v", id, attempt, j.Name, j)
			out[j.Name] = j
		}
		return out
	}
	restored := regexp.MustCompile(`^Restored from the job cache \(run (\d+), key ([0-9a-f]{64})\)$`)
	// cachedBy is the run id and key a job's steps say it was restored
	// from, or 0 when it ran.
	cachedBy := func(j jobJSON) (int, string) {
		t.Helper()
		for _, st := range j.Steps {
			if m := restored.FindStringSubmatch(st.Name); m != nil {
				must(t, len(j.Steps) == 1 && *st.Conclusion == "success", "job %s: restored, but steps %+v", j.Name, j.Steps)
				var n int
				fmt.Sscan(m[1], &n)
				return n, m[2]
			}
		}
		must(t, len(j.Steps) > 0, "job %s ran no step", j.Name)
		return 0, ""
	}

	// Run 1 runs build and stores it; its re-run (attempt 2, a new run
	// record) misses on the new run_attempt and stores under run 1 too.
	id1, _, body := s.dispatch(t, "cache.yaml", nil)
	must(t, id1 != 0, "dispatch: %s", body)
	must(t, s.done(t, id1).conclusion() == "success", "run %d failed:\n%s", id1, s.logText(t, id1))
	n, _ := cachedBy(jobs(id1, 1)["build"])
	must(t, n == 0, "run %d: build restored from run %d in an empty cache", id1, n)
	rerun(id1)
	n, _ = cachedBy(jobs(id1, 2)["build"])
	must(t, n == 0, "run %d attempt 2: build restored from run %d; its key reads run_attempt", id1, n)

	// Run 2, attempt 1 and 2: build is restored from run 1's two attempts;
	// after, which does not opt in, runs and sees build's output.
	id2, _, _ := s.dispatch(t, "cache.yaml", nil)
	must(t, s.done(t, id2).conclusion() == "success", "run %d failed:\n%s", id2, s.logText(t, id2))
	rerun(id2)
	keys := map[string]bool{}
	for attempt := 1; attempt <= 2; attempt++ {
		js := jobs(id2, attempt)
		n, key := cachedBy(js["build"])
		must(t, n == id1, "run %d attempt %d: build restored from run %d, want %d: %+v", id2, attempt, n, id1, js["build"])
		_, err := os.Stat(filepath.Join(state, "exec", "cache", "entries", key, "entry.json"))
		must(t, err == nil, "run %d attempt %d: key %s: %v", id2, attempt, key, err)
		keys[key] = true
		if attempt == 2 {
			// The run page's log: the job's end says it, as exec's console.
			want := fmt.Sprintf("cached (run %d, key %s)", id1, key[:12])
			log := s.logText(t, id2)
			must(t, strings.Contains(log, want), "run %d's log has no %q:\n%s", id2, want, log)
		}
		n, _ = cachedBy(js["after"])
		must(t, n == 0, "run %d attempt %d: after restored from run %d; it does not opt in", id2, attempt, n)
	}
	must(t, len(keys) == 2, "run %d's two attempts restored the same key %v; run_attempt is in the key", id2, keys)
	log := s.logText(t, id2)
	must(t, regexp.MustCompile(`got built in attempt 2`).MatchString(log), "attempt 2 of run %d: after did not get the restored output:\n%s", id2, log)

	// The web UI's run: the same step.
	r := s.run(t, id2)
	found := false
	for _, j := range r.Jobs {
		for _, st := range j.Steps {
			found = found || restored.MatchString(st.Name) && j.Conclusion != nil && *j.Conclusion == "success"
		}
	}
	must(t, found, "web UI run %d: no job restored from the cache: %+v", id2, r.Jobs)

	if !octokit {
		return
	}
	script := fmt.Sprintf(`
import { client, main, owner, repo } from "./harness.mjs";
const gh = client();
main(async () => {
  const jobs = (await gh.rest.actions.listJobsForWorkflowRun({ owner, repo, run_id: %d })).data;
  const build = jobs.jobs.find(j => j.name === "build");
  return { jobs, job: (await gh.rest.actions.getJobForWorkflowRun({ owner, repo, job_id: build.id })).data,
    attempt1: (await gh.rest.actions.listJobsForWorkflowRunAttempt({ owner, repo, run_id: %d, attempt_number: 1 })).data };
});
`, id2, id2)
	res, calls := runOctokit(t, modules, script, "BASE_URL="+s.URL, "TOKEN="+token)
	must(t, len(calls) == 3, "%d calls checked, want 3", len(calls))
	var job jobJSON
	if err := json.Unmarshal(res["job"], &job); err != nil {
		t.Fatal(err)
	}
	n, _ = cachedBy(job)
	must(t, n == id1, "octokit: job build of run %d restored from run %d, want %d: %+v", id2, n, id1, job)
}
