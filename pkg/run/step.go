package run

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// runStep runs one step with GitHub's rules: if: with status functions,
// env layering, timeout, continue-on-error, outcome vs conclusion.
func (jr *legRun) runStep(jobCtx context.Context, s *workflow.Step) *StepResult {
	// The job's cancellation (the run, fail-fast, its timeout) makes
	// job.status cancelled; it then wins over failure.
	if jobCtx.Err() != nil {
		jr.cancelled = true
	}
	st := &stepRun{jr: jr, s: s, sr: &StepResult{ID: s.ID.Raw, Name: s.DisplayName()}, started: time.Now(), ctxs: jr.contexts()}
	r := jr.r
	status := statusFuncs{
		success:   func() bool { return jr.status() == "success" },
		failure:   func() bool { return jr.status() == "failure" },
		cancelled: func() bool { return jr.status() == "cancelled" },
	}
	// GitHub's order (StepsRunner): the step's env: first, into the env
	// context its name, if: and other expressions see; an env: that fails
	// fails the step whatever its if: says (the condition is not reached).
	env, err := st.env()
	if err != nil {
		return st.finish("failure", err)
	}
	if s.Name.Set {
		if name, err := r.evalString(s.Name, st.ctxs, nil); err == nil {
			st.sr.Name = name
		}
	}
	ok, err := r.evalCondition(s.If, st.ctxs, status, jr.workspace)
	if err != nil {
		return st.finish("failure", err)
	}
	if !ok {
		return st.finish("skipped", nil)
	}
	r.obs.emit(Event{Job: jr.key, Step: st.sr.Name, Kind: StepStarted})
	return st.finish(st.execute(jobCtx, jr.cancelled, env))
}

// stepRun is one step while it runs: its definition, its result so far and
// the contexts its expressions see.
type stepRun struct {
	jr      *legRun
	s       *workflow.Step
	sr      *StepResult
	started time.Time
	ctxs    map[string]any
	// run, when set, is what the step runs instead of its uses: or run:
	// (the pre or post script of a JavaScript action).
	run func(ctx context.Context, env map[string]string, fc fileCommandSet, out *lineWriter) error
	// own is what the step's env: block set (inside a composite action,
	// with what the calling steps' env: blocks set): a composite action it
	// uses lays it over the job's env in each inner step.
	own map[string]string
}

// execute runs a step whose condition held, with its env, and returns its
// outcome. afterCancel: the job was cancelled before the step started (it
// runs because of always() or cancelled()).
func (st *stepRun) execute(jobCtx context.Context, afterCancel bool, env map[string]string) (string, error) {
	jr, s := st.jr, st.s
	stepCtx, timeout, stop, err := st.context(jobCtx, afterCancel)
	defer stop()
	if err != nil {
		return "failure", err
	}
	if afterCancel && stepCtx.Err() != nil {
		// Forced already: it does not start.
		return outcome(jobCtx, stepCtx, afterCancel, timeout, stepCtx.Err())
	}
	files, err := jr.fileCommands(s.Index)
	if err != nil {
		return "failure", err
	}
	if err := jr.awaitArtifacts(stepCtx, s); err != nil {
		return outcome(jobCtx, stepCtx, afterCancel, timeout, err)
	}
	out, cmdErr := jr.stepOutput(st.sr.Name, s.ID.Raw, env["ACTIONS_ALLOW_UNSECURE_COMMANDS"] == "true")
	defer out.Flush()
	switch {
	case st.run != nil:
		err = st.run(stepCtx, env, files, out)
	case s.Uses.Set:
		err = jr.runUses(stepCtx, st, env, files, out)
	default:
		err = jr.runScript(stepCtx, s, st.ctxs, env, files, out)
	}
	return outcome(jobCtx, stepCtx, afterCancel, timeout, jr.afterStep(s, files, out, cmdErr, err))
}

// outcome is a step's conclusion and error from what running it returned
// (err), its context's end and the job's.
func outcome(jobCtx, stepCtx context.Context, afterCancel bool, timeout time.Duration, err error) (string, error) {
	switch {
	case err == nil:
		return "success", nil
	case afterCancel && stepCtx.Err() == context.Canceled:
		// Options.Force ended a step that ran after the cancellation.
		return "cancelled", errors.New("the run was cancelled")
	case stepCtx.Err() == context.DeadlineExceeded && (jobCtx.Err() == nil || afterCancel):
		return "failure", fmt.Errorf("the step exceeded its timeout of %s minutes", strconv.FormatFloat(timeout.Minutes(), 'f', -1, 64))
	case jobCtx.Err() != nil && !afterCancel:
		if jobCtx.Err() == context.DeadlineExceeded {
			return "failure", errors.New("the job exceeded its timeout")
		}
		return "cancelled", errors.New("the run was cancelled")
	}
	return "failure", err
}

// context is the step's context: the job's, or, for a step that runs after
// a cancellation (always(), cancelled()), one of its own that only
// Options.Force cancels, so it is not killed at once; bounded by the step's
// timeout-minutes.
func (st *stepRun) context(jobCtx context.Context, afterCancel bool) (context.Context, time.Duration, context.CancelFunc, error) {
	ctx, stop := jobCtx, context.CancelFunc(func() {})
	if afterCancel {
		ctx, stop = context.WithCancel(st.jr.r.opts.Force)
	}
	if !st.s.TimeoutMinutes.Set {
		return ctx, 0, stop, nil
	}
	d, err := st.jr.r.minutes(st.s.TimeoutMinutes, st.ctxs)
	if err != nil {
		return ctx, 0, stop, err
	}
	ctx, stopTimeout := context.WithTimeout(ctx, d)
	return ctx, d, func() { stopTimeout(); stop() }, nil
}

// env is the step's env: block on top of the job's env (the workflow's and
// the job's env:, then what earlier steps wrote to GITHUB_ENV: one layer, a
// later write wins, as GitHub's runner keeps them in one dictionary); the
// env context of the step's other expressions then includes it.
func (st *stepRun) env() (map[string]string, error) {
	env := make(map[string]string, len(st.jr.env)+len(st.s.Env))
	for k, v := range st.jr.env {
		env[k] = v
	}
	entries, err := st.jr.r.envEntries(st.s.Env, st.ctxs)
	if err != nil {
		return nil, err
	}
	st.own = make(map[string]string, len(entries))
	for _, e := range entries {
		env[e[0]] = e[1]
		st.own[e[0]] = e[1]
	}
	st.ctxs["env"] = stringMap(env)
	return env, nil
}

// finish records the step's outcome (and its conclusion after
// continue-on-error) in the result, the job's state, the steps context,
// the events and the job log.
func (st *stepRun) finish(outcome string, err error) *StepResult {
	jr, r, s, sr := st.jr, st.jr.r, st.s, st.sr
	sr.Outcome, sr.Conclusion = outcome, outcome
	if err != nil {
		sr.Error = r.masker.Mask(err.Error())
		jr.emit(sr.Name, "Error: "+sr.Error)
	}
	if outcome == "failure" && s.ContinueOnError.Set {
		if v, e := r.evalFlag(s.ContinueOnError, st.ctxs); e == nil && v {
			sr.Conclusion = "success"
		}
	}
	switch sr.Conclusion {
	case "failure":
		jr.failed = true
	case "cancelled":
		jr.cancelled = true
	}
	sr.Duration = time.Since(st.started)
	if s.ID.Set {
		e := jr.stepEntry(s.ID.Raw)
		e.Set("outcome", sr.Outcome)
		e.Set("conclusion", sr.Conclusion)
	}
	if outcome != "skipped" {
		r.obs.emit(Event{Job: jr.key, Step: sr.Name, Kind: StepEnded, Status: sr.Conclusion, Duration: sr.Duration})
	}
	jr.log.line(sr.Name, "result: "+sr.Conclusion)
	return sr
}

// fileCommandSet is the per-step GITHUB_ENV, GITHUB_OUTPUT, ... files.
type fileCommandSet struct {
	env, output, path, summary, state string
}

func (fc fileCommandSet) all() []string {
	return []string{fc.env, fc.output, fc.path, fc.summary, fc.state}
}

// fileCommands returns the job's command files, empty. They are made once
// per job and emptied after each step that wrote to them: creating files is
// the slow part of a step on some filesystems.
func (jr *legRun) fileCommands(int) (fileCommandSet, error) {
	dir := filepath.Join(jr.temp, "_runner_file_commands")
	fc := fileCommandSet{
		env:     filepath.Join(dir, "set_env"),
		output:  filepath.Join(dir, "set_output"),
		path:    filepath.Join(dir, "add_path"),
		summary: filepath.Join(dir, "step_summary"),
		state:   filepath.Join(dir, "save_state"),
	}
	if !jr.madeFiles {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fileCommandSet{}, err
		}
		jr.madeFiles = true
	} else if jr.filesEmpty {
		return fc, nil
	}
	for _, f := range fc.all() {
		st, err := os.Stat(f)
		if err == nil && st.Size() == 0 {
			continue
		}
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			return fc, err
		}
	}
	return fc, nil
}

// applyFileCommands reads what the step wrote to its command files.
func (jr *legRun) applyFileCommands(s *workflow.Step, fc fileCommandSet) error {
	// Most steps write none of them: five stats are cheaper than five reads,
	// and let the next step skip emptying them.
	jr.filesEmpty = true
	for _, f := range fc.all() {
		if st, err := os.Stat(f); err != nil || st.Size() != 0 {
			jr.filesEmpty = false
			break
		}
	}
	if jr.filesEmpty {
		return nil
	}
	envs, err := readEnvFile(fc.env)
	if err != nil {
		return fmt.Errorf("GITHUB_ENV: %w", err)
	}
	for _, kv := range envs {
		jr.setEnv(kv[0], kv[1])
	}
	outs, err := readEnvFile(fc.output)
	if err != nil {
		return fmt.Errorf("GITHUB_OUTPUT: %w", err)
	}
	for _, kv := range outs {
		jr.setOutput(s, kv[0], kv[1])
	}
	if data, err := os.ReadFile(fc.path); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				jr.path = append([]string{line}, jr.path...)
			}
		}
	}
	data, err := os.ReadFile(fc.summary)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
	}
	if len(data) > 0 {
		jr.noteSummary(jr.r.masker.Mask(string(data)))
		if err := appendFile(filepath.Join(jr.r.dir, "summary.md"), jr.r.masker.Mask(string(data))); err != nil {
			return fmt.Errorf("the run's step summary: %w", err)
		}
	}
	return nil
}

// afterStep ends a step's output: the last line flushed, then the first
// error of the step itself, of a workflow command it printed (cmdErr) or of
// reading its command files.
func (jr *legRun) afterStep(s *workflow.Step, files fileCommandSet, out *lineWriter, cmdErr func() error, err error) error {
	out.Flush()
	if err == nil {
		err = cmdErr()
	}
	if ferr := jr.applyFileCommands(s, files); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// appendFile appends text to the file at path, created if missing.
func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(text)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

func (jr *legRun) setOutput(s *workflow.Step, k, v string) {
	if !s.ID.Set {
		return
	}
	jr.setOutputByID(s.ID.Raw, k, v)
}

// stepOutput is the writer a step's output goes through: it handles
// workflow commands, masks, and sends lines to the observer and job log,
// up to Options.StepLogLimit bytes; past it, commands still work but
// lines are dropped, with a note. cmdErr is the first command that could
// not be processed (it fails the step, as on GitHub): ::set-env and
// ::add-path unless allowUnsecure (ACTIONS_ALLOW_UNSECURE_COMMANDS=true).
func (jr *legRun) stepOutput(stepName, stepID string, allowUnsecure bool) (w *lineWriter, cmdErr func() error) {
	var failed error
	stopToken := ""
	limit, written, full := jr.r.opts.StepLogLimit, int64(0), false
	emit := func(text string) {
		if limit >= 0 {
			if written += int64(len(text)) + 1; written > limit {
				if !full {
					full = true
					jr.emit(stepName, "runner: the step's log reached its limit of "+sizeText(limit)+"; its further output is not logged")
				}
				return
			}
		}
		jr.emit(stepName, text)
	}
	// output is a line that is no workflow command: it is printed, and a
	// problem matcher that matches it makes an annotation.
	sm := &stepMatchers{job: &jr.matchers}
	output := func(line string) {
		emit(line)
		if im, ok := sm.match(line); ok && !full {
			if c, ok := jr.issueCommand(im); ok {
				jr.annotate(stepName, c)
			}
		}
	}
	return &lineWriter{masker: jr.r.masker, fn: func(line string) {
		if stopToken != "" {
			if strings.TrimSpace(line) == "::"+stopToken+"::" {
				stopToken = ""
				return
			}
			output(line)
			return
		}
		c, ok := parseCommand(line)
		if !ok {
			c, ok = parseLegacyMatcherCommand(line)
		}
		if !ok {
			output(line)
			return
		}
		switch c.Name {
		case "add-mask":
			jr.r.masker.Add(c.Value)
		case "stop-commands":
			stopToken = c.Value
		case "group":
			emit("▸ " + c.Value)
		case "endgroup":
			if !full {
				jr.r.obs.emit(Event{Job: jr.key, Step: stepName, Kind: GroupEnded})
			}
		case "debug":
			if jr.r.stepDebug() {
				emit("##[debug]" + c.Value)
			}
		case "error", "warning", "notice":
			if !full {
				jr.annotate(stepName, c)
			}
		case "set-output":
			if name := c.Props["name"]; name != "" && stepID != "" {
				jr.setOutputByID(stepID, name, c.Value)
			}
		case "set-env", "add-path":
			if !allowUnsecure {
				jr.annotate(stepName, command{Name: "error", Value: "Unable to process command '" + line + "' successfully."})
				msg := "The `" + c.Name + "` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/"
				jr.annotate(stepName, command{Name: "error", Value: msg})
				if failed == nil {
					failed = errors.New("the `" + c.Name + "` command is disabled")
				}
			} else if c.Name == "set-env" {
				if name := c.Props["name"]; name != "" {
					jr.setEnv(name, c.Value)
				}
			} else if p := strings.TrimSpace(c.Value); p != "" {
				jr.path = append([]string{p}, jr.path...)
			}
		case "save-state":
			jr.saveState(stepName, c.Props["name"], c.Value)
		case "add-matcher":
			emit(line)
			if err := jr.addMatcher(c.Value); err != nil {
				// The step fails with err, which is printed then.
				jr.annotate(stepName, command{Name: "error", Value: "Unable to process command '" + line + "' successfully."})
				if failed == nil {
					failed = err
				}
			}
		case "remove-matcher":
			emit(line)
			if err := jr.removeMatcher(c.Props["owner"], strings.TrimSpace(c.Value)); err != nil {
				jr.annotate(stepName, command{Name: "warning", Value: err.Error()})
			}
		case "echo":
		default:
			output(line)
		}
	}}, func() error { return failed }
}

// sizeText is n bytes as "64 MiB", "64 KiB" or "100 bytes".
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func (jr *legRun) setOutputByID(id, k, v string) {
	outs, _ := jr.stepEntry(id).Get("outputs")
	outs.(*expr.Object).Set(k, v)
}

// stepEntry is the steps context entry of a step, created on first use
// with GitHub's key order: outputs, outcome, conclusion. Steps appear in
// the order they first ran.
func (jr *legRun) stepEntry(id string) *expr.Object {
	if st, ok := jr.steps.Get(id); ok {
		return st.(*expr.Object)
	}
	st := expr.NewObject()
	st.Set("outputs", expr.NewObject())
	st.Set("outcome", nil)
	st.Set("conclusion", nil)
	jr.steps.Set(id, st)
	return st
}

// annotate prints ::error/::warning/::notice as "Error: file:line:col: msg".
func (jr *legRun) annotate(stepName string, c command) {
	level := strings.ToUpper(c.Name[:1]) + c.Name[1:]
	where := c.Props["file"]
	if where != "" {
		if l := c.Props["line"]; l != "" {
			where += ":" + l
			if col := c.Props["col"]; col != "" {
				where += ":" + col
			}
		}
		where += ": "
	}
	title := ""
	if t := c.Props["title"]; t != "" {
		title = t + ": "
	}
	text := level + ": " + where + title + c.Value
	num := func(k string) int {
		n, _ := strconv.Atoi(strings.TrimSpace(c.Props[k]))
		return max(n, 0)
	}
	a := &Issue{Level: c.Name, Message: c.Value, Title: c.Props["title"], File: c.Props["file"],
		Line: num("line"), EndLine: num("endLine"), Col: num("col"), EndColumn: num("endColumn")}
	jr.r.obs.emit(Event{Job: jr.key, Step: stepName, Kind: Annotation, Text: text, Annotation: a})
	jr.log.line(stepName, text)
}

// runBuiltin resolves inputs and calls the built-in action.
func (jr *legRun) runBuiltin(ctx context.Context, s *workflow.Step, ctxs map[string]any, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	r := jr.r
	if r.opts.Builtins == nil {
		return fmt.Errorf("unknown action %q", s.Uses.Raw)
	}
	b, ok := r.opts.Builtins.Lookup(s.Uses.Raw)
	if !ok {
		return fmt.Errorf("unknown action %q; built-in actions are: %s", s.Uses.Raw, strings.Join(r.opts.Builtins.Names(), ", "))
	}
	spec := b.Spec()
	inputs := map[string]string{}
	for _, in := range spec.Inputs {
		inputs[in.Name] = in.Default
	}
	for _, kv := range s.With {
		v, err := r.evalString(kv.Value, ctxs, nil)
		if err != nil {
			return err
		}
		inputs[kv.Key] = v
	}
	for _, in := range spec.Inputs {
		if in.Required && inputs[in.Name] == "" {
			return fmt.Errorf("%s:%d:%d: action %q needs input %q", r.w.File, s.Line, s.Col, spec.Name, in.Name)
		}
	}
	// Built-ins see what a run: step sees: the base environment, the
	// default variables and the workflow's env layers; runner's settings
	// come separately, in RunInfo.Settings.
	full := map[string]string{}
	for _, kv := range r.base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			full[k] = v
		}
	}
	for k, v := range jr.defaultEnv(s, fc) {
		full[k] = v
	}
	for k, v := range env {
		full[k] = v
	}
	sc := &steps.Context{
		Inputs:    inputs,
		Env:       full,
		Workspace: jr.workspace,
		Temp:      jr.temp,
		Log:       out,
		OnMask:    r.masker.Add,
		Run: steps.RunInfo{
			Settings:     r.opts.Settings,
			ID:           strconv.Itoa(r.id),
			StateDir:     r.state,
			ArtifactsDir: filepath.Join(r.dir, "artifacts"),
			Repo:         r.repo,
			SHA:          r.plan.Repo.SHA,
			Ref:          r.plan.Repo.Ref,
			Actor:        r.plan.Repo.Actor,
			Scope:        r.scope,
			Containers:   r.opts.legContainers,
		},
	}
	err := scrubURLErrors(runSafely(ctx, b, sc))
	for k, v := range sc.Outputs() {
		jr.setOutput(s, k, v)
	}
	if err == nil && spec.Name == "upload-artifact" {
		jr.noteArtifact(sc.Outputs()["artifact-id"])
	}
	return err
}

// runSafely turns a panicking built-in into a failed step.
func runSafely(ctx context.Context, b steps.Builtin, sc *steps.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("action %s crashed: %v", b.Spec().Name, p)
		}
	}()
	return b.Run(ctx, sc)
}
