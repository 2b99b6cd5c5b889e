package run

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/workflow"
)

// setUpStep names what the job prints before its first step.
const setUpStep = "Set up job"

// maxActionDepth is how deep composite actions may nest, as on GitHub.
const maxActionDepth = 10

// jobSetUp are the remote actions a job resolved when it was set up,
// by `uses:` value, and the steps whose unknown inputs were warned about.
type jobSetUp struct {
	resolved map[string]*actions.Action
	warned   map[*workflow.Step]bool
}

// lookup returns the action resolved at set-up for uses, or nil.
func (a *jobSetUp) lookup(uses string) *actions.Action {
	if a == nil {
		return nil
	}
	return a.resolved[uses]
}

// warnOnce reports whether the unknown inputs of s are still to be warned
// about, and marks them warned.
func (jr *legRun) warnOnce(s *workflow.Step) bool {
	if jr.acts == nil {
		jr.acts = &jobSetUp{resolved: map[string]*actions.Action{}, warned: map[*workflow.Step]bool{}}
	}
	if jr.acts.warned[s] {
		return false
	}
	jr.acts.warned[s] = true
	return true
}

// setUpActions is GitHub's "Set up job" for actions: before the first
// step, every remote action (owner/repo[/path]@ref) the job's steps use,
// and those the composite actions among them use, nested up to
// maxActionDepth, is resolved to a commit and fetched (or found in the
// cache), and each step's with: is checked against the action's inputs
// (a required input without default must be given; an unknown one is a
// warning). Built-ins, ./path actions (usually there only after a
// checkout step) and docker:// are left to their step. The first problem
// is the job's error; no step runs then.
func (jr *legRun) setUpActions(ctx context.Context) error {
	r := jr.r
	if jr.acts == nil {
		jr.acts = &jobSetUp{resolved: map[string]*actions.Action{}, warned: map[*workflow.Step]bool{}}
	}
	token := r.opts.Secrets["GITHUB_TOKEN"]
	announced, downloaded := false, map[string]bool{}
	var visit func(steps []*workflow.Step, file string, chain []string) error
	visit = func(steps []*workflow.Step, file string, chain []string) error {
		for _, s := range steps {
			if !s.Uses.Set {
				continue
			}
			if r.opts.Builtins != nil {
				if _, ok := r.opts.Builtins.Lookup(s.Uses.Raw); ok {
					continue
				}
			}
			at := fmt.Sprintf("%s:%d:%d", file, s.Uses.Line, s.Uses.Col)
			ref, err := workflow.ParseActionRef(s.Uses.Raw)
			if err != nil {
				return fmt.Errorf("%s: unknown action %q: %v", at, s.Uses.Raw, err)
			}
			if ref.Local || ref.IsDocker() {
				continue
			}
			key := ref.Name()
			if ref.Path != "" {
				key += "/" + ref.Path
			}
			key = strings.ToLower(key) + "@" + ref.Version
			if i := slices.Index(chain, key); i >= 0 {
				return fmt.Errorf("%s: %s uses itself: %s", at, s.Uses.Raw, strings.Join(append(slices.Clone(chain[i:]), key), " → "))
			}
			if len(chain) >= maxActionDepth {
				return fmt.Errorf("%s: %s: composite actions nest more than %d deep: %s", at, s.Uses.Raw, maxActionDepth, strings.Join(append(slices.Clone(chain), key), " → "))
			}
			act := jr.acts.resolved[s.Uses.Raw]
			if act == nil {
				if !announced {
					announced = true
					jr.emit(setUpStep, "Prepare all required actions")
					jr.emit(setUpStep, "Getting action download info")
				}
				if act, err = r.opts.Actions.Resolve(ctx, ref, jr.workspace, token); err != nil {
					return fmt.Errorf("%s: %w", at, err)
				}
				jr.acts.resolved[s.Uses.Raw] = act
				if repo := ref.Name() + "@" + ref.Version; !downloaded[repo] {
					downloaded[repo] = true
					jr.logDownload(repo, act.Fetched)
				}
			}
			if err := jr.checkInputs(s, act, at); err != nil {
				return err
			}
			if act.Meta.Runs.IsComposite() {
				if err := visit(act.Meta.Runs.Steps, act.Meta.File, append(slices.Clone(chain), key)); err != nil {
					if len(chain) == 0 { // say which step of the job it came from
						err = fmt.Errorf("%s: in %s: %w", at, s.Uses.Raw, err)
					}
					return err
				}
			}
		}
		return nil
	}
	return visit(jr.job.Steps, r.w.File, nil)
}

// logDownload prints where an action's repository came from, as GitHub's
// "Download action repository" line.
func (jr *legRun) logDownload(repo string, f *actions.Fetched) {
	if f == nil {
		return
	}
	switch {
	case f.Commit != "":
		jr.emit(setUpStep, fmt.Sprintf("Download action repository '%s' (SHA:%s)", repo, f.Commit))
	default:
		jr.emit(setUpStep, fmt.Sprintf("Download action repository '%s' (folder %s, %s)", repo, f.Source, f.Digest))
	}
	if f.Cached {
		jr.emit(setUpStep, fmt.Sprintf("%s: %s", repo, f.Note))
	}
}

// checkInputs checks a step's with: against the action's inputs without
// evaluating anything: a required input without default must have a
// key; unknown keys get GitHub's warning (once: not again at the step).
func (jr *legRun) checkInputs(s *workflow.Step, act *actions.Action, at string) error {
	given := map[string]bool{}
	var unknown []string
	for _, kv := range s.With {
		given[strings.ToLower(kv.Key)] = true
		if act.Meta.Input(kv.Key) == nil {
			unknown = append(unknown, kv.Key)
		}
	}
	for _, in := range act.Meta.Inputs {
		if in.IsRequired() && !in.Default.Set && !given[strings.ToLower(in.Name)] {
			return fmt.Errorf("%s: input %q is required by %s and was not given", at, in.Name, s.Uses.Raw)
		}
	}
	if len(unknown) > 0 && jr.warnOnce(s) {
		jr.annotate(setUpStep, command{Name: "warning", Value: unexpectedInputs(unknown, act)})
	}
	return nil
}

// unexpectedInputs is GitHub's warning about with: keys an action does
// not declare.
func unexpectedInputs(unknown []string, act *actions.Action) string {
	var valid []string
	for _, in := range act.Meta.Inputs {
		valid = append(valid, in.Name)
	}
	sort.Strings(valid)
	return fmt.Sprintf("Unexpected input(s) '%s', valid inputs are ['%s']", strings.Join(unknown, "', '"), strings.Join(valid, "', '"))
}
