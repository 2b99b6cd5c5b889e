package serve_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/serve"
	"github.com/birdflock/runner/pkg/testenv"
)

const artifactsWF = `name: Build
on: workflow_dispatch
jobs:
  build:
    name: Build it
    runs-on: x
    steps:
      - name: Make
        run: |
          mkdir -p out/sub && echo binary > out/app && echo doc > out/sub/readme && echo made ${{ github.run_attempt }}
          echo "::warning file=app.go,line=3,col=5::mind the gap"
          echo "::error::plain"
          echo "::notice title=Sizes,file=src/a b.go,line=3,endLine=5,col=1,endColumn=4::whole"
      - uses: actions/upload-artifact@v4
        with:
          name: bundle
          path: out/
  lint:
    runs-on: x
    steps:
      - run: echo lint-report > report.txt
      - uses: actions/upload-artifact@v4
        with:
          name: report
          path: report.txt
`

// unzip opens a zip an Octokit script returned in base64: file name →
// content.
func unzip(t *testing.T, res map[string]json.RawMessage, key string) map[string]string {
	t.Helper()
	var b64 string
	if err := json.Unmarshal(res[key], &b64); err != nil {
		t.Fatalf("%s: %v: %s", key, err, res[key])
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: not a zip: %v", key, err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = string(b)
	}
	return out
}

func names(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// GitHub's JavaScript client downloads a run's logs as GitHub's zip (one
// timestamped file per job, a folder per job with one file per step), per
// attempt; lists, reads, downloads and deletes artifacts (ids unique over
// the service, name filter, pagination); deletes a run's logs and the run;
// disables a workflow (dispatch refused with 422) and enables it again;
// force-cancels a run. Every answer is checked against GitHub's API
// description (runOctokit).
func TestOctokitLogsArtifactsWorkflowState(t *testing.T) {
	modules := octokitModules(t)
	state := filepath.Join(t.TempDir(), "state")
	s := start(t, serve.Config{State: state}, birds(t, map[string]string{".github/workflows/build.yaml": artifactsWF, ".github/workflows/slow.yaml": slowWF}), 0)
	script := `
import { client, main, until, owner, repo, base64 } from "./harness.mjs";
const gh = client();
const done = (run_id, attempt) => until("attempt " + attempt, async () => {
  const { data } = await gh.rest.actions.getWorkflowRun({ owner, repo, run_id });
  return data.run_attempt === attempt && data.status === "completed" && data;
});
const status = async f => { try { await f(); return 0; } catch (e) { return e.status; } };
main(async () => {
  const out = {};
  await gh.rest.actions.createWorkflowDispatch({ owner, repo, workflow_id: "build.yaml", ref: "main" });
  const run_id = (await gh.rest.actions.listWorkflowRunsForRepo({ owner, repo })).data.workflow_runs[0].id;
  out.run_id = run_id;
  out.first = await done(run_id, 1);
  await gh.rest.actions.reRunWorkflow({ owner, repo, run_id });
  out.second = await done(run_id, 2);
  out.logs = base64((await gh.rest.actions.downloadWorkflowRunLogs({ owner, repo, run_id })).data);
  out.logs1 = base64((await gh.rest.actions.downloadWorkflowRunAttemptLogs({ owner, repo, run_id, attempt_number: 1 })).data);

  out.runArtifacts = (await gh.rest.actions.listWorkflowRunArtifacts({ owner, repo, run_id })).data;
  out.bundles = (await gh.rest.actions.listArtifactsForRepo({ owner, repo, name: "bundle" })).data;
  out.paged = await gh.paginate(gh.rest.actions.listArtifactsForRepo, { owner, repo, per_page: 1 });
  const bundle = out.bundles.artifacts[0];
  out.bundle = (await gh.rest.actions.getArtifact({ owner, repo, artifact_id: bundle.id })).data;
  out.bundleZip = base64((await gh.rest.actions.downloadArtifact({ owner, repo, artifact_id: bundle.id, archive_format: "zip" })).data);
  await gh.rest.actions.deleteArtifact({ owner, repo, artifact_id: bundle.id });
  out.deletedArtifact = await status(() => gh.rest.actions.getArtifact({ owner, repo, artifact_id: bundle.id }));
  out.afterDelete = (await gh.rest.actions.listWorkflowRunArtifacts({ owner, repo, run_id })).data.total_count;
  out.otherRepo = await status(() => gh.rest.actions.getArtifact({ owner, repo: "other", artifact_id: out.runArtifacts.artifacts[1].id }));

  await gh.rest.actions.disableWorkflow({ owner, repo, workflow_id: "build.yaml" });
  out.disabled = (await gh.rest.actions.getWorkflow({ owner, repo, workflow_id: "build.yaml" })).data;
  out.disabledDispatch = await status(() => gh.rest.actions.createWorkflowDispatch({ owner, repo, workflow_id: "build.yaml", ref: "main" }));
  await gh.rest.actions.enableWorkflow({ owner, repo, workflow_id: out.disabled.id });
  out.enabled = (await gh.rest.actions.getWorkflow({ owner, repo, workflow_id: "build.yaml" })).data;

  await gh.rest.actions.createWorkflowDispatch({ owner, repo, workflow_id: "slow.yaml", ref: "main" });
  const slow = (await gh.rest.actions.listWorkflowRuns({ owner, repo, workflow_id: "slow.yaml" })).data.workflow_runs[0].id;
  await until("slow in progress", async () => (await gh.rest.actions.getWorkflowRun({ owner, repo, run_id: slow })).data.status === "in_progress");
  out.deleteRunning = await status(() => gh.rest.actions.deleteWorkflowRun({ owner, repo, run_id: slow }));
  await gh.rest.actions.forceCancelWorkflowRun({ owner, repo, run_id: slow });
  out.cancelled = await done(slow, 1);

  await gh.rest.actions.deleteWorkflowRunLogs({ owner, repo, run_id });
  out.deletedLogs = await status(() => gh.rest.actions.downloadWorkflowRunLogs({ owner, repo, run_id }));
  await gh.rest.actions.deleteWorkflowRun({ owner, repo, run_id });
  out.deletedRun = await status(() => gh.rest.actions.getWorkflowRun({ owner, repo, run_id }));
  out.leftArtifacts = (await gh.rest.actions.listArtifactsForRepo({ owner, repo })).data.total_count;
  out.contents = (await gh.rest.repos.getContent({ owner, repo, path: ".github/workflows/build.yaml", ref: "main" })).data;
  out.noContents = await status(() => gh.rest.repos.getContent({ owner, repo, path: ".github/workflows" }));
  await gh.rest.actions.createWorkflowDispatch({ owner, repo, workflow_id: "build.yaml", ref: "main" });
  const again = (await gh.rest.actions.listWorkflowRuns({ owner, repo, workflow_id: "build.yaml" })).data.workflow_runs[0].id;
  await done(again, 1);
  const jobs = (await gh.rest.actions.listJobsForWorkflowRun({ owner, repo, run_id: again })).data.jobs;
  out.annotations = (await gh.rest.checks.listAnnotations({ owner, repo, check_run_id: jobs.find(j => j.name === "Build it").id })).data;
  out.anonymous = await status(() => client({ auth: undefined }).rest.actions.listArtifactsForRepo({ owner, repo }));
  return out;
});
`
	res, calls := runOctokit(t, modules, script, "BASE_URL="+s.URL, "TOKEN="+token)
	get := func(key string, v any) {
		t.Helper()
		if err := json.Unmarshal(res[key], v); err != nil {
			t.Fatalf("%s: %v: %s", key, err, res[key])
		}
	}
	var runID int64
	get("run_id", &runID)

	// Logs: GitHub's layout, every line after GitHub's timestamp; each
	// attempt its own.
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z `)
	for key, attempt := range map[string]int{"logs": 2, "logs1": 1} {
		files := unzip(t, res, key)
		// Names become file names: / and > are replaced.
		want := []string{"1_Build it.txt", "2_lint.txt", "Build it/1_Make.txt", "Build it/2_actionsupload-artifact@v4.txt", "lint/1_Run echo lint-report  report.txt.txt", "lint/2_actionsupload-artifact@v4.txt"}
		must(t, fmt.Sprint(names(files)) == fmt.Sprint(want), "%s: files %q, want %q", key, names(files), want)
		job := files["1_Build it.txt"]
		for _, l := range strings.Split(strings.TrimSuffix(job, "\n"), "\n") {
			must(t, stamp.MatchString(l), "%s: line without GitHub's timestamp: %q", key, l)
		}
		made := fmt.Sprintf("made %d", attempt)
		must(t, strings.Contains(job, made) && strings.Contains(files["Build it/1_Make.txt"], made) && !strings.Contains(files["Build it/2_actions_upload-artifact@v4.txt"], made),
			"%s: want %q in the job's file and its Make step's file only:\n%s", key, made, job)
	}

	// Artifacts.
	type artifact struct {
		ID          int64
		Name        string
		Size        int64  `json:"size_in_bytes"`
		DownloadURL string `json:"archive_download_url"`
		Run         struct {
			ID int64
		} `json:"workflow_run"`
	}
	type list struct {
		Total     int `json:"total_count"`
		Artifacts []artifact
	}
	var runArts, bundles list
	get("runArtifacts", &runArts)
	get("bundles", &bundles)
	ids := map[int64]bool{}
	for _, a := range runArts.Artifacts {
		ids[a.ID] = true
		must(t, a.Run.ID == runID, "artifact %+v: run %d, want %d", a, a.Run.ID, runID)
	}
	must(t, runArts.Total == 4 && len(ids) == 4, "run artifacts (2 per attempt, ids unique): %+v", runArts)
	must(t, bundles.Total == 2 && bundles.Artifacts[0].Name == "bundle" && bundles.Artifacts[1].Name == "bundle", "name=bundle: %+v", bundles)
	var paged []artifact
	get("paged", &paged)
	must(t, len(paged) == 4, "octokit.paginate per_page=1: %d artifacts, want 4", len(paged))
	pages := 0
	for _, c := range calls {
		if strings.Contains(c.URL, "/actions/artifacts?") && strings.Contains(c.URL, "per_page=1") {
			pages++
		}
	}
	must(t, pages == 4, "paginate made %d requests, want 4", pages)
	var bundle artifact
	get("bundle", &bundle)
	must(t, bundle.ID == bundles.Artifacts[0].ID && bundle.Size == int64(len("binary\ndoc\n")) &&
		bundle.DownloadURL == fmt.Sprintf("%s/repos/mona/birds/actions/artifacts/%d/zip", s.URL, bundle.ID), "artifact: %+v", bundle)
	files := unzip(t, res, "bundleZip")
	must(t, len(files) == 2 && files["app"] == "binary\n" && files["sub/readme"] == "doc\n", "artifact zip: %q", files)
	var n int
	get("deletedArtifact", &n)
	must(t, n == 404, "get a deleted artifact: %d, want 404", n)
	get("afterDelete", &n)
	must(t, n == 3, "run artifacts after a delete: %d, want 3", n)
	get("otherRepo", &n)
	must(t, n == 404, "artifact through another repository: %d, want 404", n)

	// Workflow state.
	var wf struct{ State string }
	get("disabled", &wf)
	must(t, wf.State == "disabled_manually", "disabled workflow's state: %q", wf.State)
	get("disabledDispatch", &n)
	must(t, n == 422, "dispatch of a disabled workflow: %d, want 422", n)
	get("enabled", &wf)
	must(t, wf.State == "active", "enabled workflow's state: %q", wf.State)

	// Force-cancel, deletions.
	get("deleteRunning", &n)
	must(t, n == 403, "delete a running run: %d, want 403", n)
	var cancelled struct{ Conclusion string }
	get("cancelled", &cancelled)
	must(t, cancelled.Conclusion == "cancelled", "force-cancelled run: %+v", cancelled)
	get("deletedLogs", &n)
	must(t, n == 410, "logs after their deletion: %d, want 410", n)
	get("deletedRun", &n)
	must(t, n == 404, "a deleted run: %d, want 404", n)
	// Attempts 1 and 2 of the deleted run were records 1 and 2; the slow
	// run, record 3, keeps its directory.
	for rec, gone := range map[int]bool{1: true, 2: true, 3: false} {
		_, err := os.Stat(filepath.Join(state, "exec", "runs", fmt.Sprint(rec)))
		must(t, os.IsNotExist(err) == gone, "run directory of record %d after deleting run %d: %v", rec, runID, err)
	}
	get("leftArtifacts", &n)
	must(t, n == 0, "artifacts after their run's deletion: %d, want 0", n)
	var contents struct {
		Type, Encoding, Content, Path string
	}
	get("contents", &contents)
	src, _ := base64.StdEncoding.DecodeString(contents.Content)
	must(t, contents.Type == "file" && contents.Path == ".github/workflows/build.yaml" && string(src) == artifactsWF, "contents: %+v", contents)
	get("noContents", &n)
	must(t, n == 404, "contents of a folder: %d, want 404", n)
	var anns []struct {
		Path      string
		StartLine int  `json:"start_line"`
		StartCol  *int `json:"start_column"`
		EndLine   int  `json:"end_line"`
		EndCol    *int `json:"end_column"`
		Title     *string
		Level     string `json:"annotation_level"`
		Message   string
	}
	get("annotations", &anns)
	must(t, len(anns) == 3 && anns[2].Path == "src/a b.go" && anns[2].StartLine == 3 && anns[2].EndLine == 5 && anns[2].StartCol != nil && *anns[2].StartCol == 1 &&
		anns[2].EndCol != nil && *anns[2].EndCol == 4 && anns[2].Title != nil && *anns[2].Title == "Sizes" && anns[2].Level == "notice" && anns[2].Message == "whole" && anns[0].Path == "app.go" && anns[0].StartLine == 3 && anns[0].StartCol != nil && *anns[0].StartCol == 5 &&
		anns[0].Level == "warning" && anns[0].Message == "mind the gap" && anns[1].Path == ".github" && anns[1].Level == "failure" && anns[1].Message == "plain",
		"annotations: %+v", anns)
	get("anonymous", &n)
	must(t, n == 401, "artifacts without the token: %d, want 401", n)
}

// A disabled workflow is not run by a push found by polling; enabled
// again, the next push runs it.
func TestDisabledWorkflowSkipsPush(t *testing.T) {
	repo := birds(t, nil)
	s := start(t, serve.Config{}, repo, 30*time.Millisecond)
	s.waitPolls(t, 1)
	var wfs struct {
		Workflows []struct {
			ID   int64
			Path string
		}
	}
	getJSON(t, s.URL+"/repos/mona/birds/actions/workflows", &wfs)
	must(t, len(wfs.Workflows) > 0, "no workflows")
	for _, wf := range wfs.Workflows {
		resp, body := do(t, "PUT", fmt.Sprintf("%s/repos/mona/birds/actions/workflows/%d/disable", s.URL, wf.ID), token, nil)
		must(t, resp.StatusCode == http.StatusNoContent, "disable %s: %s %s", wf.Path, resp.Status, body)
	}
	repo.commit(t, "code", map[string]string{"back-end/main.go": "package main\n// new\n"})
	s.waitPolls(t, s.polls(t)+2)
	total, _ := s.runs(t)
	must(t, total == 0, "runs of disabled workflows after a push: %d", total)
	for _, wf := range wfs.Workflows {
		resp, body := do(t, "PUT", fmt.Sprintf("%s/repos/mona/birds/actions/workflows/%d/enable", s.URL, wf.ID), token, nil)
		must(t, resp.StatusCode == http.StatusNoContent, "enable %s: %s %s", wf.Path, resp.Status, body)
	}
	repo.commit(t, "code", map[string]string{"back-end/main.go": "package main\n// newer\n"})
	testenv.Eventually(t, 10*time.Second, func() bool { total, _ = s.runs(t); return total > 0 }, "no run after enabling")
	resp, _ := do(t, "PUT", s.URL+"/repos/mona/birds/actions/workflows/nope.yaml/disable", token, nil)
	must(t, resp.StatusCode == http.StatusNotFound, "disable an unknown workflow: %s", resp.Status)
	resp, _ = do(t, "PUT", fmt.Sprintf("%s/repos/mona/birds/actions/workflows/%d/disable", s.URL, wfs.Workflows[0].ID), "", nil)
	must(t, resp.StatusCode == http.StatusUnauthorized, "disable without the token: %s", resp.Status)
}
