package serve_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// GitHub's JavaScript client drives a run through failure, re-run of the
// failed jobs, re-run of one job and re-run of all as a script written
// for GitHub would: the run keeps its id, each attempt its own jobs and
// logs; jobs are found and read by id; every answer matches GitHub's API
// description (checked in runOctokit).
func TestOctokitRunsAttemptsJobs(t *testing.T) {
	modules := octokitModules(t)
	dir := t.TempDir()
	flaky := fmt.Sprintf(`name: Flaky
on: workflow_dispatch
jobs:
  build:
    runs-on: [self-hosted, linux]
    outputs:
      tag: ${{ steps.t.outputs.tag }}
    steps:
      - id: t
        run: echo built >> %[1]s/builds; echo "tag=v$(wc -l < %[1]s/builds)" >> "$GITHUB_OUTPUT"
  test:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo "testing ${{ needs.build.outputs.tag }}"
      - run: test -e %[1]s/fixed || { touch %[1]s/fixed; echo broken; exit 1; }
`, dir)
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/flaky.yaml": flaky}), 0)
	script := `
import { client, main, until, owner, repo } from "./harness.mjs";
const gh = client();
const done = (run_id, attempt) => until("attempt " + attempt, async () => {
  const { data } = await gh.rest.actions.getWorkflowRun({ owner, repo, run_id });
  return data.run_attempt === attempt && data.status === "completed" && data;
});
main(async () => {
  const out = {};
  await gh.rest.actions.createWorkflowDispatch({ owner, repo, workflow_id: "flaky.yaml", ref: "main" });
  const { data: list } = await gh.rest.actions.listWorkflowRunsForRepo({ owner, repo });
  const run_id = list.workflow_runs[0].id;
  out.run_id = run_id;
  out.first = await done(run_id, 1);
  const { data: jobs1 } = await gh.rest.actions.listJobsForWorkflowRun({ owner, repo, run_id });
  out.jobs1 = jobs1;
  const failed = jobs1.jobs.find(j => j.conclusion === "failure");
  out.failedJob = (await gh.rest.actions.getJobForWorkflowRun({ owner, repo, job_id: failed.id })).data;
  out.failedLog = (await gh.rest.actions.downloadJobLogsForWorkflowRun({ owner, repo, job_id: failed.id })).data;

  await gh.rest.actions.reRunWorkflowFailedJobs({ owner, repo, run_id });
  out.second = await done(run_id, 2);
  out.attempt1 = (await gh.rest.actions.getWorkflowRunAttempt({ owner, repo, run_id, attempt_number: 1 })).data;
  out.attempt1Jobs = (await gh.rest.actions.listJobsForWorkflowRunAttempt({ owner, repo, run_id, attempt_number: 1 })).data;
  out.attempt2Jobs = (await gh.rest.actions.listJobsForWorkflowRunAttempt({ owner, repo, run_id, attempt_number: 2 })).data;
  out.allJobs = (await gh.rest.actions.listJobsForWorkflowRun({ owner, repo, run_id, filter: "all" })).data;
  out.oldLog = (await gh.rest.actions.downloadJobLogsForWorkflowRun({ owner, repo, job_id: failed.id })).data;
  const kept = out.attempt2Jobs.jobs.find(j => j.name === "build");
  out.keptJob = (await gh.rest.actions.getJobForWorkflowRun({ owner, repo, job_id: kept.id })).data;
  out.keptLog = (await gh.rest.actions.downloadJobLogsForWorkflowRun({ owner, repo, job_id: kept.id })).data;

  const test2 = out.attempt2Jobs.jobs.find(j => j.name === "test");
  await gh.rest.actions.reRunJobForWorkflowRun({ owner, repo, job_id: test2.id });
  out.third = await done(run_id, 3);
  await gh.rest.actions.reRunWorkflow({ owner, repo, run_id });
  out.fourth = await done(run_id, 4);
  out.listed = (await gh.rest.actions.listWorkflowRunsForRepo({ owner, repo })).data;
  try {
    await gh.rest.actions.getWorkflowRunAttempt({ owner, repo, run_id, attempt_number: 5 });
  } catch (e) { out.attempt5 = e.status; }
  try {
    await client({ auth: undefined }).rest.actions.getWorkflowRun({ owner, repo, run_id });
  } catch (e) { out.anonymous = e.status; }
  try {
    await gh.rest.actions.getJobForWorkflowRun({ owner, repo: "other", job_id: failed.id });
  } catch (e) { out.otherRepo = e.status; }
  const ghes = client({ baseUrl: process.env.BASE_URL + "/api/v3" });
  out.ghes = (await ghes.rest.actions.getWorkflowRun({ owner, repo, run_id })).data;
  return out;
});
`
	res, calls := runOctokit(t, modules, script, "BASE_URL="+s.URL, "TOKEN="+token)
	type step struct {
		Name, Status string
		Conclusion   *string
		Number       int
	}
	type job struct {
		ID         int64
		Name       string
		RunID      int64 `json:"run_id"`
		RunAttempt int   `json:"run_attempt"`
		Conclusion *string
		HeadSHA    string `json:"head_sha"`
		Labels     []string
		Steps      []step
	}
	type jobs struct {
		Total int `json:"total_count"`
		Jobs  []job
	}
	type run struct {
		ID         int64
		RunAttempt int `json:"run_attempt"`
		Conclusion *string
		HeadSHA    string `json:"head_sha"`
		URL        string
		JobsURL    string  `json:"jobs_url"`
		Previous   *string `json:"previous_attempt_url"`
		PreviousID *int64  `json:"previous_attempt_run_id"`
	}
	get := func(key string, v any) {
		t.Helper()
		if err := json.Unmarshal(res[key], v); err != nil {
			t.Fatalf("%s: %v: %s", key, err, res[key])
		}
	}
	var runID int64
	get("run_id", &runID)
	conclusion := func(c *string) string {
		if c == nil {
			return ""
		}
		return *c
	}
	for i, key := range []string{"first", "second", "third", "fourth"} {
		var r run
		get(key, &r)
		want := map[bool]string{true: "failure", false: "success"}[i == 0]
		must(t, r.ID == runID && r.RunAttempt == i+1 && conclusion(r.Conclusion) == want, "%s attempt: %+v, want run %d attempt %d %s", key, r, runID, i+1, want)
		must(t, (r.Previous == nil) == (i == 0) && (r.PreviousID == nil) == (i == 0), "%s attempt: previous attempt %v %v", key, r.Previous, r.PreviousID)
		must(t, r.URL == fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, runID) && r.JobsURL == r.URL+"/jobs", "%s: urls %s %s", key, r.URL, r.JobsURL)
	}
	var a1 run
	get("attempt1", &a1)
	must(t, a1.RunAttempt == 1 && conclusion(a1.Conclusion) == "failure", "attempt 1 after the re-run: %+v", a1)

	var j1, j1a, j2, all jobs
	get("jobs1", &j1)
	get("attempt1Jobs", &j1a)
	get("attempt2Jobs", &j2)
	get("allJobs", &all)
	must(t, j1.Total == 2 && len(j1.Jobs) == 2 && j1.Jobs[0].Name == "build" && j1.Jobs[1].Name == "test", "jobs of attempt 1: %+v", j1)
	must(t, fmt.Sprint(j1.Jobs[0].Labels) == "[self-hosted linux]" && fmt.Sprint(j1.Jobs[1].Labels) == "[ubuntu-latest]", "labels: %v %v", j1.Jobs[0].Labels, j1.Jobs[1].Labels)
	must(t, string(res["attempt1Jobs"]) == string(res["jobs1"]), "attempt 1's jobs changed with the re-run:\n%s\n%s", res["attempt1Jobs"], res["jobs1"])
	must(t, j2.Total == 2 && all.Total == 4 && len(all.Jobs) == 4, "jobs: attempt 2 %d, all %d", j2.Total, all.Total)
	ids := map[int64]bool{}
	for _, j := range all.Jobs {
		must(t, j.RunID == runID && !ids[j.ID] && j.HeadSHA != "", "job %+v: run id or a shared id", j)
		ids[j.ID] = true
	}
	for _, j := range j2.Jobs {
		must(t, j.RunAttempt == 2 && conclusion(j.Conclusion) == "success", "attempt 2 job %+v", j)
	}
	// Attempt 2 kept build, as GitHub shows it: attempt 1's steps, times
	// and log, under a job id of its own.
	var kept job
	var keptLog string
	get("keptJob", &kept)
	get("keptLog", &keptLog)
	build1 := j1.Jobs[0]
	must(t, kept.ID != build1.ID && kept.RunAttempt == 2 && len(kept.Steps) > 0 && len(kept.Steps) == len(build1.Steps) &&
		kept.Steps[0].Name == build1.Steps[0].Name && conclusion(kept.Steps[0].Conclusion) == "success",
		"attempt 2's kept build: %+v, want attempt 1's steps %+v", kept, build1.Steps)
	must(t, strings.Contains(keptLog, "##[group]"+build1.Steps[0].Name), "attempt 2's kept build's log:\n%s", keptLog)
	var failed job
	get("failedJob", &failed)
	must(t, failed.Name == "test" && failed.RunAttempt == 1 && len(failed.Steps) == 2 && failed.Steps[1].Number == 2 &&
		conclusion(failed.Steps[1].Conclusion) == "failure" && conclusion(failed.Steps[0].Conclusion) == "success", "failed job: %+v", failed)

	// Job logs: plain text, each line after GitHub's timestamp; attempt
	// 1's log stays attempt 1's.
	var log, oldLog string
	get("failedLog", &log)
	get("oldLog", &oldLog)
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z `)
	for _, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		must(t, stamp.MatchString(l), "log line without GitHub's timestamp: %q\n%s", l, log)
	}
	must(t, strings.Contains(log, "testing v1") && strings.Contains(log, "broken") && !strings.Contains(log, "built"), "job log:\n%s", log)
	must(t, oldLog == log, "attempt 1's job log changed after the re-run:\n%s\n---\n%s", oldLog, log)

	var listed struct {
		Total int   `json:"total_count"`
		Runs  []run `json:"workflow_runs"`
	}
	get("listed", &listed)
	must(t, listed.Total == 1 && listed.Runs[0].ID == runID && listed.Runs[0].RunAttempt == 4, "runs listed: %+v", listed)
	for key, want := range map[string]string{"attempt5": "404", "anonymous": "401", "otherRepo": "404"} {
		must(t, string(res[key]) == want, "%s: %s, want %s", key, res[key], want)
	}
	var ghes run
	get("ghes", &ghes)
	must(t, strings.HasPrefix(ghes.URL, s.URL+"/api/v3/repos/mona/birds/actions/runs/"), "GitHub Enterprise prefix: url %s", ghes.URL)
	must(t, len(calls) > 20, "only %d calls checked", len(calls))
}

// Octokit's list calls with GitHub's filters, pagination that
// octokit.paginate walks by the Link header, and the workflows API: ids
// stable per path, a workflow by id or file name, its runs, dispatch by
// id.
func TestOctokitFiltersPagesWorkflows(t *testing.T) {
	modules := octokitModules(t)
	ok := "name: Quick\non: [workflow_dispatch, push]\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo fine\n"
	bad := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: exit 1\n"
	repo := birds(t, map[string]string{".github/workflows/ok.yaml": ok, ".github/workflows/bad.yaml": bad})
	s := start(t, serve.Config{}, repo, 0)
	script := `
import { client, main, until, owner, repo } from "./harness.mjs";
const gh = client();
const count = async params => (await gh.rest.actions.listWorkflowRunsForRepo({ owner, repo, ...params })).data.total_count;
main(async () => {
  const out = {};
  const { data: wfs } = await gh.rest.actions.listRepoWorkflows({ owner, repo });
  out.workflows = wfs;
  const quick = wfs.workflows.find(w => w.path.endsWith("/ok.yaml"));
  out.byId = (await gh.rest.actions.getWorkflow({ owner, repo, workflow_id: quick.id })).data;
  out.byName = (await gh.rest.actions.getWorkflow({ owner, repo, workflow_id: "ok.yaml" })).data;
  for (let i = 0; i < 5; i++) await gh.rest.actions.createWorkflowDispatch({ owner, repo, workflow_id: quick.id, ref: "main" });
  await gh.rest.actions.createWorkflowDispatch({ owner, repo, workflow_id: "bad.yaml", ref: "main" });
  await until("runs to complete", async () => (await count({ status: "completed" })) === 6);
  const pages = [];
  out.paginated = (await gh.paginate(gh.rest.actions.listWorkflowRunsForRepo, { owner, repo, per_page: 2 }, (r) => { pages.push(r.headers.link || ""); return r.data; })).map(r => r.id);
  out.pages = pages;
  out.workflowRuns = (await gh.rest.actions.listWorkflowRuns({ owner, repo, workflow_id: quick.id, per_page: 100 })).data.total_count;
  out.workflowRunsByName = (await gh.rest.actions.listWorkflowRuns({ owner, repo, workflow_id: "bad.yaml" })).data.total_count;
  const first = (await gh.rest.actions.listWorkflowRunsForRepo({ owner, repo, per_page: 1 })).data.workflow_runs[0];
  out.counts = {
    all: await count({}), branchMain: await count({ branch: "main" }), branchNone: await count({ branch: "no-such-branch" }),
    dispatch: await count({ event: "workflow_dispatch" }), push: await count({ event: "push" }),
    success: await count({ status: "success" }), failure: await count({ status: "failure" }),
    actor: await count({ actor: first.actor.login }), actorNone: await count({ actor: "nobody-at-all" }),
    sha: await count({ head_sha: first.head_sha }), shaNone: await count({ head_sha: "0000000000000000000000000000000000000000" }),
    since2020: await count({ created: ">=2020-01-01" }), before2020: await count({ created: "<2020-01-01" }),
    range: await count({ created: "2020-01-01..2999-12-31" }), future: await count({ created: "2999-01-01..*" }),
  };
  out.workflowId = first.workflow_id;
  try { await count({ created: "last tuesday" }); } catch (e) { out.badCreated = e.status; }
  try { await gh.rest.actions.getWorkflow({ owner, repo, workflow_id: 999999 }); } catch (e) { out.noWorkflow = e.status; }
  return out;
});
`
	res, _ := runOctokit(t, modules, script, "BASE_URL="+s.URL, "TOKEN="+token)
	get := func(key string, v any) {
		t.Helper()
		if err := json.Unmarshal(res[key], v); err != nil {
			t.Fatalf("%s: %v: %s", key, err, res[key])
		}
	}
	type wf struct {
		ID   int64
		Name string
		Path string
	}
	var wfs struct {
		Total     int `json:"total_count"`
		Workflows []wf
	}
	get("workflows", &wfs)
	names := map[string]int64{}
	for _, w := range wfs.Workflows {
		names[w.Path] = w.ID
	}
	quick := names[".github/workflows/ok.yaml"]
	must(t, wfs.Total == 3 && quick > 0 && names[".github/workflows/bad.yaml"] > 0 && names[".github/workflows/hello.yaml"] > 0, "workflows: %+v", wfs)
	var byID, byName wf
	get("byId", &byID)
	get("byName", &byName)
	must(t, byID == byName && byID.ID == quick && byID.Name == "Quick", "workflow by id %+v, by name %+v", byID, byName)
	var wfID int64
	get("workflowId", &wfID)
	must(t, wfID == names[".github/workflows/bad.yaml"], "latest run's workflow_id %d, want bad.yaml's %d", wfID, names[".github/workflows/bad.yaml"])

	var ids []int64
	var pages []string
	get("paginated", &ids)
	get("pages", &pages)
	must(t, len(ids) == 6 && len(pages) == 3, "paginate: %d runs in %d pages, want 6 in 3: %v", len(ids), len(pages), pages)
	seen := map[int64]bool{}
	for i, id := range ids {
		must(t, !seen[id] && (i == 0 || id < ids[i-1]), "paginate: runs %v not each once, newest first", ids)
		seen[id] = true
	}
	must(t, strings.Contains(pages[0], `rel="next"`) && strings.Contains(pages[0], `rel="last"`) && !strings.Contains(pages[0], `rel="prev"`) &&
		strings.Contains(pages[1], `rel="prev"`) && strings.Contains(pages[1], `rel="first"`) && !strings.Contains(pages[2], `rel="next"`), "Link headers: %q", pages)

	var counts map[string]int
	get("counts", &counts)
	want := map[string]int{"all": 6, "branchMain": 6, "branchNone": 0, "dispatch": 6, "push": 0, "success": 5, "failure": 1,
		"actor": 6, "actorNone": 0, "sha": 6, "shaNone": 0, "since2020": 6, "before2020": 0, "range": 6, "future": 0}
	for k, n := range want {
		must(t, counts[k] == n, "filter %s: %d runs, want %d (all: %v)", k, counts[k], n, counts)
	}
	for key, want := range map[string]string{"workflowRuns": "5", "workflowRunsByName": "1", "badCreated": "422", "noWorkflow": "404"} {
		must(t, string(res[key]) == want, "%s: %s, want %s", key, res[key], want)
	}
}
