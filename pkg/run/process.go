package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/birdflock/runner/pkg/workflow"
)

// runScript runs a `run:` step: the script goes to a file in RUNNER_TEMP
// and the shell runs it in a process group of its own, so that a timeout or
// cancellation reaches every process the script started.
func (jr *legRun) runScript(ctx context.Context, s *workflow.Step, ctxs map[string]any, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	r := jr.r
	script, err := r.evalString(s.Run, ctxs, nil)
	if err != nil {
		return err
	}
	shell := firstSet(s.Shell, jr.defaults.Shell)
	tmpl := "bash -e {0}" // GitHub's default when no shell is given
	if shell != "" {
		if tmpl, err = workflow.ShellCommand(shell); err != nil {
			return err
		}
	} else if !jr.hasBash() {
		tmpl = "sh -e {0}"
	}
	wd := jr.workspace
	// The step's own working-directory is evaluated now; the job's
	// defaults were when the job started (jr.defaults), and do not reach
	// into an action's steps.
	defaultDir := jr.defaults.WorkingDirectory.Set && jr.scope == nil
	if s.WorkingDirectory.Set || defaultDir {
		dir := jr.defaults.WorkingDirectory.Raw
		if s.WorkingDirectory.Set {
			if dir, err = r.evalString(s.WorkingDirectory, ctxs, nil); err != nil {
				return err
			}
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(jr.workspace, dir)
		} else if dir, err = jr.containerDir(dir); err != nil {
			return err
		}
		wd = dir
	}
	if st, err := os.Stat(wd); err != nil || !st.IsDir() {
		return fmt.Errorf("working directory %s does not exist", wd)
	}
	ext := ".sh"
	if strings.HasPrefix(tmpl, "python") {
		ext = ".py"
	}
	// One script file per job, rewritten for each step: creating files is
	// slow on some filesystems, rewriting is not.
	file := filepath.Join(jr.temp, "step"+ext)
	if err := rewrite(file, []byte(script)); err != nil {
		return err
	}
	argv := shellArgv(tmpl, file)
	full := jr.defaultEnv(s, fc)
	for k, v := range env {
		full[k] = v
	}
	if jr.ctr != nil {
		return jr.execInContainer(ctx, argv, wd, full, out)
	}
	if len(jr.path) > 0 {
		p := full["PATH"]
		if p == "" {
			p = r.basePath
		}
		full["PATH"] = strings.Join(jr.path, string(os.PathListSeparator)) + string(os.PathListSeparator) + p
	}
	pathVar, ok := full["PATH"]
	if !ok {
		pathVar = r.basePath
	}
	argv[0] = r.lookPath(argv[0], pathVar)
	return runProcess(ctx, argv, wd, environ(r.base, full), out, r.opts.ladder(), jr.cgroup)
}

// rewrite replaces the content of file. Unlike os.WriteFile it does not
// open with O_TRUNC: on ext4 truncating a file to zero costs about 0.2 ms,
// a tenth of a whole `bash -c true`; truncating to the new length after
// the write is nearly free.
func rewrite(file string, data []byte) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Truncate(int64(len(data)))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// lookPath resolves a shell name on the step's PATH (which GITHUB_PATH may
// have extended), caching the answer for the run: the search costs a stat
// per PATH entry on every step otherwise. A name it cannot resolve is
// returned as is, for exec to report.
func (r *runState) lookPath(name, pathVar string) string {
	if strings.ContainsRune(name, '/') {
		return name
	}
	key := name + "\x00" + pathVar
	r.pathMu.Lock()
	defer r.pathMu.Unlock()
	if p, ok := r.paths[key]; ok {
		return p
	}
	p := name
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			dir = "."
		}
		cand := filepath.Join(dir, name)
		if st, err := os.Stat(cand); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			p = cand
			break
		}
	}
	if r.paths == nil {
		r.paths = map[string]string{}
	}
	r.paths[key] = p
	return p
}

// hasBash looks bash up once per run.
func (r *runState) hasBash() bool {
	r.bashOnce.Do(func() {
		_, err := exec.LookPath("bash")
		r.bash = err == nil
	})
	return r.bash
}

func firstSet(vs ...workflow.Value) string { return firstSetValue(vs...).Raw }

func firstSetValue(vs ...workflow.Value) workflow.Value {
	for _, v := range vs {
		if v.Set {
			return v
		}
	}
	return workflow.Value{}
}

// environ is the base environment with the step's variables over it.
func environ(base []string, vars map[string]string) []string {
	out := make([]string, 0, len(vars)+len(base))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, over := vars[k]; !over {
			out = append(out, kv)
		}
	}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// defaultEnv is GitHub's set of default variables for one step.
func (jr *legRun) defaultEnv(s *workflow.Step, fc fileCommandSet) map[string]string {
	g := jr.r.githubContext(jr.job.ID, jr.workspace)
	str := func(k string) string { v, _ := g[k].(string); return v }
	action := jr.actionName(s)
	env := map[string]string{
		"CI":                      "true",
		"GITHUB_ACTIONS":          "true",
		"GITHUB_WORKFLOW":         str("workflow"),
		"GITHUB_WORKFLOW_REF":     str("workflow_ref"),
		"GITHUB_RUN_ID":           str("run_id"),
		"GITHUB_RUN_NUMBER":       str("run_number"),
		"GITHUB_RUN_ATTEMPT":      str("run_attempt"),
		"GITHUB_JOB":              jr.job.ID,
		"GITHUB_ACTION":           action,
		"GITHUB_ACTOR":            str("actor"),
		"GITHUB_TRIGGERING_ACTOR": str("actor"),
		"GITHUB_REPOSITORY":       str("repository"),
		"GITHUB_REPOSITORY_OWNER": str("repository_owner"),
		"GITHUB_EVENT_NAME":       str("event_name"),
		"GITHUB_EVENT_PATH":       str("event_path"),
		"GITHUB_WORKSPACE":        jr.workspace,
		"GITHUB_SHA":              str("sha"),
		"GITHUB_REF":              str("ref"),
		"GITHUB_REF_NAME":         str("ref_name"),
		"GITHUB_REF_TYPE":         str("ref_type"),
		"GITHUB_HEAD_REF":         str("head_ref"),
		"GITHUB_BASE_REF":         str("base_ref"),
		"GITHUB_SERVER_URL":       str("server_url"),
		"GITHUB_API_URL":          str("api_url"),
		"GITHUB_GRAPHQL_URL":      str("graphql_url"),
		"GITHUB_ENV":              fc.env,
		"GITHUB_OUTPUT":           fc.output,
		"GITHUB_PATH":             fc.path,
		"GITHUB_STEP_SUMMARY":     fc.summary,
		"GITHUB_STATE":            fc.state,
		"RUNNER_OS":               "Linux",
		"RUNNER_ARCH":             runnerArch(),
		"RUNNER_NAME":             jr.r.runnerContext("")["name"].(string),
		"RUNNER_TEMP":             jr.temp,
		"RUNNER_TOOL_CACHE":       jr.r.opts.ToolCache,
		"RUNNER_ENVIRONMENT":      "self-hosted",
		"RUNNER_TRACKING_ID":      jr.trackingID,
	}
	if d := jr.r.runnerDebug(); d != "" {
		env["RUNNER_DEBUG"] = d
	}
	jr.scopeEnv(s, env)
	return env
}

// runProcess runs argv in its own process group, inside the job's cgroup
// g (nil: none). When ctx ends, it is stopped by the ladder.
func runProcess(ctx context.Context, argv []string, dir string, env []string, out *lineWriter, ladder stopLadder, g *jobCgroup) error {
	return superviseProcess(ctx, out, ladder, func(pw *os.File) (process, error) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = env
		cmd.Stdin = nil
		cmd.Stdout = pw
		cmd.Stderr = pw
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd, err := g.start(cmd)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", argv[0], err)
		}
		return hostProcess{cmd}, nil
	})
}

// process is a started process: on the host, or in a job container
// through its agent.
type process interface {
	// interrupt sends sig to the process alone.
	interrupt(sig syscall.Signal)
	// signal sends sig to the process's group (and, in a container, to
	// what it started outside the group).
	signal(sig syscall.Signal)
	// wait waits for the end and returns it in runProcess's words.
	wait() error
}

type hostProcess struct{ cmd *exec.Cmd }

func (p hostProcess) interrupt(sig syscall.Signal) { _ = syscall.Kill(p.cmd.Process.Pid, sig) }

func (p hostProcess) signal(sig syscall.Signal) { _ = syscall.Kill(-p.cmd.Process.Pid, sig) }

func (p hostProcess) wait() error {
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code, sig := ee.ExitCode(), syscall.Signal(0)
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig = ws.Signal()
		}
		return exitError(code, sig)
	}
	return err
}

// exitError is a step's error for an exit code or killing signal, nil
// for success.
func exitError(code int, sig syscall.Signal) error {
	switch {
	case sig != 0:
		return fmt.Errorf("process killed by signal %s", sig)
	case code != 0:
		return fmt.Errorf("process completed with exit code %d", code)
	}
	return nil
}

// superviseProcess runs the process start starts with pw as its stdout
// and stderr, copies its output to out, and when ctx ends, stops it by the
// ladder (SIGINT and SIGTERM to it, SIGKILL to its group).
func superviseProcess(ctx context.Context, out *lineWriter, ladder stopLadder, start func(pw *os.File) (process, error)) error {
	// Our own pipe rather than exec's: after the script exits we read
	// everything it wrote, and stop waiting only when the pipe has gone
	// quiet (a background child may keep it open for the rest of the job).
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	p, err := start(pw)
	pw.Close()
	if err != nil {
		return err
	}
	// waiting is when the reader began waiting for data, 0 while it
	// handles what it read: only silence of the pipe counts as quiet, not
	// a slow consumer (masking and logging 20,000 lines under the race
	// detector on a loaded machine take seconds).
	var waiting atomic.Int64
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 32*1024)
		for {
			waiting.Store(time.Now().UnixNano())
			n, err := pr.Read(buf)
			waiting.Store(0)
			if n > 0 {
				out.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			ladder.climb(exited, p.interrupt, p.signal)
		case <-exited:
		}
	}()
	err = p.wait()
	close(exited)
	// Stop after 200 ms of silence, or 10 s at most if a background
	// child keeps writing.
	const quiet, most = 200 * time.Millisecond, 10 * time.Second
	giveUp := time.Now().Add(most)
	for drained := false; !drained; {
		select {
		case <-copied:
			drained = true
		case <-time.After(20 * time.Millisecond):
			w := waiting.Load()
			if (w != 0 && time.Since(time.Unix(0, w)) > quiet) || time.Now().After(giveUp) {
				_ = pr.SetReadDeadline(time.Now())
			}
		}
	}
	if ctx.Err() != nil {
		p.signal(syscall.SIGKILL)
		return ctx.Err()
	}
	return err
}

// killTracked ends every process still carrying the job's
// RUNNER_TRACKING_ID, like GitHub's runner cleans up orphan processes.
func killTracked(id string, grace time.Duration) {
	if id == "" {
		return
	}
	find := func() []int {
		var pids []int
		entries, _ := os.ReadDir("/proc")
		needle := []byte("RUNNER_TRACKING_ID=" + id + "\x00")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			data, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err == nil && bytes.Contains(append(data, 0), needle) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	pids := find()
	if len(pids) == 0 {
		return
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if pids = find(); len(pids) == 0 {
			return
		}
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// actionNames are GITHUB_ACTION for each step: its id, else the name
// GitHub's workflow parser generates (WorkflowTemplateConverter with its
// IdBuilder): __run for a script, __self for a ./path action,
// __owner_repo for owner/repo[/path]@ref, __IMAGE for docker://IMAGE;
// characters other than letters, digits, _ and - become _, and a name an
// earlier step took (case-insensitively) gets _2, _3 ….
func actionNames(steps []*workflow.Step) []string {
	names := make([]string, len(steps))
	taken := map[string]bool{}
	for i, s := range steps {
		if s.ID.Set && s.ID.Raw != "" {
			names[i] = s.ID.Raw
			taken[strings.ToLower(s.ID.Raw)] = true
		}
	}
	for i, s := range steps {
		if names[i] != "" {
			continue
		}
		base := "__run"
		if s.Uses.Set {
			base = "__" + defaultActionID(s.Uses.Raw)
		}
		base = idChars.ReplaceAllString(base, "_")
		name := base
		for n := 2; taken[strings.ToLower(name)]; n++ {
			name = base + "_" + strconv.Itoa(n)
		}
		taken[strings.ToLower(name)] = true
		names[i] = name
	}
	return names
}

// idChars are the characters GitHub's IdBuilder replaces, one _ each.
var idChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// defaultActionID is what GitHub names a step that uses an action and has
// no id, before the __ prefix: the image of docker://IMAGE, self for a
// ./path, owner/repo for owner/repo[/path]@ref, run otherwise.
func defaultActionID(uses string) string {
	switch {
	case strings.HasPrefix(uses, "docker://"):
		if id := strings.TrimPrefix(uses, "docker://"); id != "" {
			return id
		}
	case strings.HasPrefix(uses, "./"), strings.HasPrefix(uses, ".\\"):
		return "self"
	default:
		path, ref, ok := strings.Cut(uses, "@")
		parts := strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '\\' })
		if ok && ref != "" && !strings.Contains(ref, "@") && len(parts) >= 2 {
			return parts[0] + "/" + parts[1]
		}
	}
	return "run"
}
