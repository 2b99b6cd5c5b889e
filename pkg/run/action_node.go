package run

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/workflow"
)

// JavaScript actions (runs.using: node12 … node24) run as GitHub runs
// them: `node SCRIPT` in the workspace, a process in the job's cgroup
// like a run: step, with the step's env, INPUT_<NAME> for every input and
// the action's GITHUB_ACTION_* variables. pre runs before the job's first
// step, post at its end in reverse order; the state an action saves
// (GITHUB_STATE, ::save-state) reaches its later stages as STATE_<name>.

// jsActions is what a job keeps about its JavaScript actions.
type jsActions struct {
	// pre are the pre stages that ran, by step: their state goes on to
	// the step's main, and they registered its post.
	pre map[*workflow.Step]*jsStage
	// saving is the state of the action stage running now, where
	// ::save-state goes; nil when none runs.
	saving map[string]string
	// post are the post stages registered, in order; they run reversed.
	post []*jsStage
}

// jsStage is one stage of a JavaScript action step.
type jsStage struct {
	s      *workflow.Step // the step that uses the action
	act    *actions.Action
	stage  string            // "pre", "main" or "post"
	inputs map[string]string // nil: evaluated when the stage runs
	// action is GITHUB_ACTION of a post, the main's: a step of a
	// composite action has a name of its own in the action.
	action string
	// state is what the action saved (GITHUB_STATE, ::save-state),
	// shared by the stages of one use of the action: pre, main, post.
	state map[string]string
}

// runNode runs a JavaScript action's main script with node. Its post, if
// it has one, is registered first: it runs at the job's end even when
// main fails.
func (jr *legRun) runNode(ctx context.Context, st *stepRun, act *actions.Action, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	runs := act.Meta.Runs
	if runs.Pre.Set && act.Ref.Local {
		jr.annotate(st.sr.Name, command{Name: "warning", Value: fmt.Sprintf("`pre` execution is not supported for local action from '%s'", st.s.Uses.Raw)})
	}
	setActionContext(st.ctxs, act)
	inputs, err := jr.actionInputs(st, act)
	if err != nil {
		return err
	}
	return jr.runNodeScript(ctx, st, &jsStage{s: st.s, act: act, stage: "main", inputs: inputs}, env, fc, out)
}

// registerPost adds the post stage of the action step of p, its pre or
// main about to run, as GitHub registers it: when the pre runs, else when
// the main does. Each use of an action has its own (a step of a composite
// action used twice runs twice).
func (jr *legRun) registerPost(p *jsStage, action string) {
	pre := jr.js.pre[p.s]
	switch {
	case p.stage == "pre":
		if jr.js.pre == nil {
			jr.js.pre = map[*workflow.Step]*jsStage{}
		}
		jr.js.pre[p.s] = p
	case pre != nil:
		p.state = pre.state
		return
	}
	if runs := p.act.Meta.Runs; runs.Post.Set || (runs.IsDocker() && runs.PostEntrypoint.Set) {
		jr.js.post = append(jr.js.post, &jsStage{s: p.s, act: p.act, stage: "post", inputs: p.inputs, action: action, state: p.state})
	}
}

// setActionContext sets github.action_path, action_repository and
// action_ref for the expressions of an action's step.
func setActionContext(ctxs map[string]any, act *actions.Action) {
	g, ok := ctxs["github"].(map[string]any)
	if !ok {
		return
	}
	repo, ref := actionRepoRef(act)
	g["action_path"], g["action_repository"], g["action_ref"] = act.Dir, repo, ref
}

// actionRepoRef is GITHUB_ACTION_REPOSITORY and GITHUB_ACTION_REF: owner/repo
// and the version asked for; empty for a ./path action.
func actionRepoRef(act *actions.Action) (repo, ref string) {
	if act.Ref.Local || act.Ref.IsDocker() {
		return "", ""
	}
	return act.Ref.Owner + "/" + act.Ref.Repo, act.Ref.Version
}

// runNodeScript runs one stage (pre, main, post) of a JavaScript action
// as the step st.
func (jr *legRun) runNodeScript(ctx context.Context, st *stepRun, p *jsStage, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	r, s, act, stage, inputs := jr.r, st.s, p.act, p.stage, p.inputs
	runs := act.Meta.Runs
	entry := map[string]workflow.Value{"pre": runs.Pre, "main": runs.Main, "post": runs.Post}[stage]
	script, err := securejoin.SecureJoin(act.Dir, entry.Raw)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(script); err == nil && fi.IsDir() {
			err = fmt.Errorf("%s is a directory", entry.Raw)
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%s does not exist in the action", entry.Raw)
		}
		return fmt.Errorf("%s:%d:%d: runs.%s: %v", act.Meta.File, entry.Line, entry.Col, stage, err)
	}
	want := usingMajor(runs.Using.Raw)
	node, err := jr.jsNode(want)
	if err != nil {
		return fmt.Errorf("%s runs using %s: %w", s.Uses.Raw, runs.Using.Raw, err)
	}
	jr.emit(st.sr.Name, fmt.Sprintf("node %s at %s", node.version, node.path))
	if node.major > 0 && node.major < want {
		jr.annotate(st.sr.Name, command{Name: "warning", Value: fmt.Sprintf("%s asks for %s; node %s at %s is older and may not run it", s.Uses.Raw, runs.Using.Raw, node.version, node.path)})
	}

	envStep := s
	if p.action != "" {
		// A post runs outside the composite action its step may be in:
		// the step's place there does not name it in the job.
		c := *s
		c.Index = 0
		envStep = &c
	}
	full := jr.defaultEnv(envStep, fc)
	if p.action != "" {
		full["GITHUB_ACTION"] = p.action
	}
	if stage != "post" {
		if p.state == nil {
			p.state = map[string]string{}
		}
		jr.registerPost(p, full["GITHUB_ACTION"])
	}
	for k, v := range env {
		full[k] = v
	}
	if len(jr.path) > 0 {
		cur, ok := full["PATH"]
		if !ok {
			cur = r.basePath
		}
		full["PATH"] = strings.Join(jr.path, string(os.PathListSeparator)) + string(os.PathListSeparator) + cur
	}
	for k, v := range inputs {
		full[inputEnvName(k)] = v
	}
	repo, ref := actionRepoRef(act)
	full["GITHUB_ACTION_PATH"] = act.Dir
	full["GITHUB_ACTION_REPOSITORY"] = repo
	full["GITHUB_ACTION_REF"] = ref
	state := p.state
	for k, v := range state {
		full["STATE_"+k] = v
	}
	if stage != "post" {
		jr.js.saving = state
	}
	err = jr.runJS(ctx, node.path, script, full, env, out)
	out.Flush() // a last ::save-state without newline
	jr.js.saving = nil
	if stage != "post" {
		saved, serr := readEnvFile(fc.state)
		if serr != nil && err == nil {
			err = fmt.Errorf("GITHUB_STATE: %w", serr)
		}
		for _, kv := range saved {
			state[kv[0]] = kv[1]
		}
	}
	if err != nil {
		if code, ok := strings.CutPrefix(err.Error(), "process completed with exit code "); ok {
			return fmt.Errorf("Node run failed with exit code %s", code)
		}
	}
	return err
}

// saveState handles ::save-state name=NAME::VALUE, GITHUB_STATE's
// deprecated form, with GitHub's warning: the state of the action stage
// running now (a run: step has none).
func (jr *legRun) saveState(stepName, name, value string) {
	jr.annotate(stepName, command{Name: "warning", Value: "The `save-state` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/"})
	if jr.js.saving != nil && name != "" {
		jr.js.saving[name] = value
	}
}

// usingMajor is the Node.js major version runs.using asks for: 20 for
// node20.
func usingMajor(using string) int {
	n := 0
	for _, c := range strings.TrimPrefix(strings.ToLower(using), "node") {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}
