package run

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/workflow"
)

// runUses runs a `uses:` step: a built-in when one has that name, else
// the action the reference names (./path or owner/repo@ref), by its
// runs.using.
func (jr *legRun) runUses(ctx context.Context, st *stepRun, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	s := st.s
	if jr.r.opts.Builtins != nil {
		if _, ok := jr.r.opts.Builtins.Lookup(s.Uses.Raw); ok {
			return jr.runBuiltin(ctx, s, st.ctxs, env, fc, out)
		}
	}
	if ref, err := workflow.ParseActionRef(s.Uses.Raw); err == nil && ref.IsDocker() {
		return jr.runDockerStep(ctx, st, ref, env, fc, out)
	}
	act, err := jr.action(ctx, s)
	if err != nil {
		return err
	}
	switch runs := act.Meta.Runs; {
	case runs.IsComposite():
		return jr.runComposite(ctx, st, act, env, fc, out)
	case runs.IsNode():
		return jr.runNode(ctx, st, act, env, fc, out)
	case runs.IsDocker():
		return jr.runDockerAction(ctx, st, act, env, fc, out)
	default:
		return fmt.Errorf("%s: runs.using %s is not known to this runner", s.Uses.Raw, runs.Using.Raw)
	}
}

// action resolves the action a step uses: the one set-up resolved, or
// now (./path).
func (jr *legRun) action(ctx context.Context, s *workflow.Step) (*actions.Action, error) {
	if act := jr.acts.lookup(s.Uses.Raw); act != nil {
		return act, nil
	}
	ref, err := workflow.ParseActionRef(s.Uses.Raw)
	if err != nil {
		return nil, fmt.Errorf("%s:%d:%d: unknown action %q: %v", jr.file(), s.Uses.Line, s.Uses.Col, s.Uses.Raw, err)
	}
	return jr.r.opts.Actions.Resolve(ctx, ref, jr.workspace, jr.r.opts.Secrets["GITHUB_TOKEN"])
}

// actionInputs are the inputs an action step gets: its with: values over
// the action's defaults (expressions evaluated in the step's contexts),
// keyed by the names the action declares. An input the action does not
// declare is passed on with a warning, as on GitHub; a required input
// without a value is an error.
func (jr *legRun) actionInputs(st *stepRun, act *actions.Action) (map[string]string, error) {
	r, s := jr.r, st.s
	inputs := map[string]string{}
	given := map[string]bool{}
	var unknown []string
	for _, kv := range s.With {
		v, err := r.evalString(kv.Value, st.ctxs, nil)
		if err != nil {
			return nil, err
		}
		name := kv.Key
		if in := act.Meta.Input(kv.Key); in != nil {
			name = in.Name
			if in.DeprecationMessage != "" {
				jr.annotate(st.sr.Name, command{Name: "warning", Value: fmt.Sprintf("Input '%s' has been deprecated with message: %s", in.Name, in.DeprecationMessage)})
			}
		} else {
			unknown = append(unknown, kv.Key)
		}
		inputs[name] = v
		given[strings.ToLower(name)] = true
	}
	if len(unknown) > 0 && jr.warnOnce(s) {
		jr.annotate(st.sr.Name, command{Name: "warning", Value: unexpectedInputs(unknown, act)})
	}
	for _, in := range act.Meta.Inputs {
		if given[strings.ToLower(in.Name)] {
			continue
		}
		if in.Default.Set {
			v, err := r.evalString(in.Default, st.ctxs, nil)
			if err != nil {
				if e := errors.Unwrap(err); e != nil {
					err = e // without the calling step's file:line:col
				}
				return nil, fmt.Errorf("%s:%d:%d: inputs.%s.default: %w", act.Meta.File, in.Default.Line, in.Default.Col, in.Name, err)
			}
			inputs[in.Name] = v
			continue
		}
		if in.IsRequired() {
			return nil, fmt.Errorf("%s:%d:%d: input %q is required by %s and was not given", jr.file(), s.Uses.Line, s.Uses.Col, in.Name, s.Uses.Raw)
		}
		inputs[in.Name] = ""
	}
	return inputs, nil
}

// inputEnvName is the variable an input reaches an action in: INPUT_ and
// the name upper-cased with spaces as _, other characters kept (GitHub's
// rule, which @actions/core's getInput reads).
func inputEnvName(name string) string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
}
