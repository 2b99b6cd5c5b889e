package run

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// statusFuncs back success(), failure() and cancelled(); nil means "not in
// an if: condition" and the functions are unavailable.
type statusFuncs struct {
	success, failure, cancelled func() bool
}

// RunContext is what the github context says about one run before any of
// its jobs: what run-name and a workflow's concurrency group see. The engine
// adds each job's keys to it; runner serve evaluates concurrency groups with
// the same keys, so `${{ github.run_id }}` means the same in both.
type RunContext struct {
	ID       int            // github.run_id and run_number
	Attempt  int            // github.run_attempt; 0: 1
	Event    string         // github.event_name
	Payload  map[string]any // github.event
	Repo     Repo
	Workflow string // github.workflow: the workflow's name, else its file
	File     string // the workflow file, for github.workflow_ref
	// EventPath is github.event_path; "" before the run's directory exists.
	EventPath string
	// Token is github.token (the GITHUB_TOKEN secret); "" at workflow level.
	Token string
}

// GitHub returns the github context of the run. Job-level keys (job,
// workspace, action*, the file commands' paths) are empty.
func (c RunContext) GitHub() map[string]any {
	repo := c.Repo
	rf := eventRefs(c.Event, c.Payload, repo.Ref)
	ref := rf.ref
	refName, refType := ref, "branch"
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		refName = strings.TrimPrefix(ref, "refs/heads/")
	case strings.HasPrefix(ref, "refs/tags/"):
		refName, refType = strings.TrimPrefix(ref, "refs/tags/"), "tag"
	case strings.HasPrefix(ref, "refs/pull/"):
		refName = strings.TrimPrefix(ref, "refs/pull/")
	}
	owner, _, _ := strings.Cut(repo.Repository, "/")
	event := c.Payload
	if event == nil {
		event = map[string]any{}
	}
	return map[string]any{
		"event_name":            c.Event,
		"event":                 event,
		"event_path":            c.EventPath,
		"sha":                   repo.SHA,
		"ref":                   ref,
		"ref_name":              refName,
		"ref_type":              refType,
		"ref_protected":         false,
		"head_ref":              rf.headRef,
		"base_ref":              rf.baseRef,
		"actor":                 repo.Actor,
		"triggering_actor":      repo.Actor,
		"repository":            repo.Repository,
		"repository_owner":      owner,
		"workspace":             "",
		"run_id":                strconv.Itoa(c.ID),
		"run_number":            strconv.Itoa(c.ID),
		"run_attempt":           strconv.Itoa(max(c.Attempt, 1)),
		"retention_days":        "0",
		"job":                   "",
		"workflow":              c.Workflow,
		"workflow_ref":          repo.Repository + "/" + c.File + "@" + ref,
		"server_url":            "https://github.com",
		"api_url":               "https://api.github.com",
		"graphql_url":           "https://api.github.com/graphql",
		"token":                 c.Token,
		"action":                "",
		"action_path":           "",
		"path":                  "",
		"env":                   "",
		"output":                "",
		"step_summary":          "",
		"secret_source":         "None",
		"repositoryUrl":         repo.Path,
		"repository_id":         "",
		"actor_id":              "",
		"workflow_sha":          repo.SHA,
		"repository_visibility": "private",
	}
}

// runContext is this run's RunContext.
func (r *runState) runContext() RunContext {
	c := r.plan.RunContext()
	c.EventPath, c.Token = filepath.Join(r.dir, "event.json"), r.opts.Secrets["GITHUB_TOKEN"]
	if r.opts.podWorkDir != "" {
		// The copy a Docker action's container mounts.
		c.EventPath = r.podEventFile()
	}
	return c
}

// githubContext is the github context for one job.
func (r *runState) githubContext(job string, workspace string) map[string]any {
	g := r.runContext().GitHub()
	g["job"] = job
	g["workspace"] = workspace
	return g
}

func runnerArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "X64"
	case "arm64":
		return "ARM64"
	case "386":
		return "X86"
	case "arm":
		return "ARM"
	}
	return strings.ToUpper(runtime.GOARCH)
}

func (r *runState) runnerContext(temp string) map[string]any {
	host, _ := os.Hostname()
	return map[string]any{
		"os":          "Linux",
		"arch":        runnerArch(),
		"name":        "runner@" + host,
		"temp":        temp,
		"tool_cache":  r.opts.ToolCache,
		"environment": "self-hosted",
		"debug":       r.runnerDebug(),
	}
}

// stepDebug reports whether step debug logging is on: ACTIONS_STEP_DEBUG
// is true (in any case) as a secret or a configuration variable, as on
// GitHub (its Step_Debug variable).
func (r *runState) stepDebug() bool {
	return strings.EqualFold(r.opts.Secrets["ACTIONS_STEP_DEBUG"], "true") ||
		strings.EqualFold(r.plan.Vars["ACTIONS_STEP_DEBUG"], "true")
}

// runnerDebug is runner.debug and RUNNER_DEBUG: 1 with step debug logging,
// else empty (GitHub sets neither then).
func (r *runState) runnerDebug() string {
	if r.stepDebug() {
		return "1"
	}
	return ""
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// baseContexts are the contexts known before a job runs (job-level if,
// strategy, matrix expressions).
func (r *runState) baseContexts(j *workflow.Job) map[string]any {
	return map[string]any{
		"github":   r.githubContext(j.ID, ""),
		"inputs":   r.plan.Inputs,
		"vars":     stringMap(r.plan.Vars),
		"secrets":  stringMap(r.opts.Secrets),
		"env":      map[string]any{},
		"needs":    map[string]any{},
		"matrix":   map[string]any{},
		"strategy": map[string]any{},
		"job":      map[string]any{"status": "success"},
		"runner":   r.runnerContext(""),
		"steps":    map[string]any{},
	}
}

// contexts are every context for expressions inside a running job.
func (jr *legRun) contexts() map[string]any {
	r := jr.r
	status := jr.status()
	strategy := jr.strategy
	if strategy == nil {
		strategy = map[string]any{"fail-fast": true, "job-index": float64(0), "job-total": float64(1), "max-parallel": float64(1)}
	}
	return map[string]any{
		"github":   r.githubContext(jr.job.ID, jr.workspace),
		"inputs":   r.plan.Inputs,
		"vars":     stringMap(r.plan.Vars),
		"secrets":  stringMap(r.opts.Secrets),
		"env":      stringMap(jr.env),
		"needs":    jr.needs,
		"matrix":   jr.combo.Context(),
		"strategy": strategy,
		"job":      jr.jobContext(status),
		"runner":   r.runnerContext(jr.temp),
		"steps":    jr.steps,
	}
}

func (r *runState) exprEnv(ctxs map[string]any, status *statusFuncs, workspace string) *expr.Env {
	env := &expr.Env{Contexts: ctxs, Funcs: map[string]expr.Func{
		"hashFiles": func(args []any) (any, error) { return hashFiles(workspace, args) },
	}}
	if status != nil {
		b := func(f func() bool) expr.Func { return func([]any) (any, error) { return f(), nil } }
		env.Funcs["success"] = b(status.success)
		env.Funcs["failure"] = b(status.failure)
		env.Funcs["cancelled"] = b(status.cancelled)
		env.Funcs["always"] = b(func() bool { return true })
	}
	return env
}

// place prefixes an evaluation error with the value's position: in the
// workflow, or in the action.yml the contexts say (fileKey).
func (r *runState) place(ctxs map[string]any, v workflow.Value, err error) error {
	file := r.w.File
	if f, ok := ctxs[fileKey].(string); ok {
		file = f
	}
	return fmt.Errorf("%s:%d:%d: %w", file, v.Line, v.Col, err)
}

func (r *runState) evalValue(v workflow.Value, ctxs map[string]any, status *statusFuncs) (any, error) {
	t, err := expr.ParseTemplate(v.Raw)
	if err != nil {
		return nil, r.place(ctxs, v, err)
	}
	ws, _ := ctxs["github"].(map[string]any)["workspace"].(string)
	out, err := t.Eval(r.exprEnv(ctxs, status, ws))
	if err != nil {
		return nil, r.place(ctxs, v, err)
	}
	return out, nil
}

func (r *runState) evalString(v workflow.Value, ctxs map[string]any, status *statusFuncs) (string, error) {
	if !strings.Contains(v.Raw, "${{") {
		return v.Raw, nil
	}
	t, err := expr.ParseTemplate(v.Raw)
	if err != nil {
		return "", r.place(ctxs, v, err)
	}
	ws, _ := ctxs["github"].(map[string]any)["workspace"].(string)
	out, err := t.EvalString(r.exprEnv(ctxs, status, ws))
	if err != nil {
		return "", r.place(ctxs, v, err)
	}
	return out, nil
}

// evalCondition evaluates an if: value; an unset one means success().
func (r *runState) evalCondition(v workflow.Value, ctxs map[string]any, status statusFuncs, workspace string) (bool, error) {
	src := v.Raw
	if !v.Set || strings.TrimSpace(src) == "" {
		src = "success()"
	}
	n, err := expr.Condition(src)
	if err != nil {
		return false, r.place(ctxs, v, err)
	}
	out, err := expr.Eval(n, r.exprEnv(ctxs, &status, workspace))
	if err != nil {
		return false, r.place(ctxs, v, err)
	}
	return expr.Truthy(out), nil
}

// hashFiles is GitHub's hashFiles(): the SHA-256 of the SHA-256 of every
// matching file under the workspace, in path order; "" when none match.
// Patterns starting with ! exclude.
func hashFiles(workspace string, args []any) (any, error) {
	if workspace == "" {
		return nil, fmt.Errorf("hashFiles is only available inside a job")
	}
	var include, exclude []string
	for _, a := range args {
		p, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("hashFiles patterns must be strings")
		}
		if strings.HasPrefix(p, "!") {
			exclude = append(exclude, strings.TrimPrefix(p, "!"))
		} else {
			include = append(include, p)
		}
	}
	seen := map[string]bool{}
	var files []string
	fsys := os.DirFS(workspace)
	for _, p := range include {
		matches, err := doublestar.Glob(fsys, strings.TrimPrefix(p, "./"), doublestar.WithFilesOnly())
		if err != nil {
			return nil, fmt.Errorf("hashFiles(%q): %w", p, err)
		}
	next:
		for _, m := range matches {
			for _, e := range exclude {
				if ok, _ := doublestar.Match(strings.TrimPrefix(e, "./"), m); ok {
					continue next
				}
			}
			if !seen[m] {
				seen[m] = true
				files = append(files, m)
			}
		}
	}
	if len(files) == 0 {
		return "", nil
	}
	sort.Strings(files)
	outer := sha256.New()
	for _, f := range files {
		fh, err := os.Open(filepath.Join(workspace, f))
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return nil, err
		}
		outer.Write(h.Sum(nil))
	}
	return hex.EncodeToString(outer.Sum(nil)), nil
}

// jobContext is the job context: its status, and its container and
// services only when the job has them (GitHub leaves them out otherwise, so
// that job.container is null, not an empty object, which is true).
func (jr *legRun) jobContext(status string) map[string]any {
	job := map[string]any{"status": status}
	if jr.ctr != nil {
		job["container"] = jr.containerContext()
	}
	if len(jr.services) > 0 || len(jr.r.opts.podServices) > 0 {
		job["services"] = jr.servicesContext()
	}
	return job
}
