package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/workflow"
)

// Called is a reusable workflow that one job calls, loaded and checked.
type Called struct {
	Ref      workflow.ActionRef
	Workflow *workflow.Workflow
	// Root is the folder of the callee's repository: where its own
	// ./.github/workflows calls resolve.
	Root string
	// Calls are the callee's own calls.
	Calls Calls
	// Source is the callee's file, for its legs that run elsewhere
	// (Options.Remote), which parse the same bytes.
	Source []byte
}

// Calls are the reusable workflows a workflow's jobs call, by job.
type Calls map[*workflow.Job]*Called

// CallLoader loads reusable workflows. Its zero value loads local ones
// only and checks their steps' uses: against no built-ins.
type CallLoader struct {
	// Root is the folder of the caller's repository: ./ references are
	// resolved inside it (symlinks included).
	Root string
	// Actions fetches remote ones (owner/repo/.github/workflows/x.yml@ref);
	// nil: remote calls are an error.
	Actions *actions.Resolver
	// Token, when not empty, authenticates the fetch of remote ones.
	Token string
	// Options validate each callee as runner exec validates the caller.
	Options workflow.Options
	// LocalOnly leaves remote calls out (runner check fetches nothing);
	// they are then missing from the Calls returned.
	LocalOnly bool
}

// Load loads what w's jobs call, and what those call in turn, up to
// GitHub's depth limit (workflow.MaxCallDepth levels in all). Every
// callee is parsed and validated and must have an on.workflow_call
// trigger; every call's with: and secrets: are checked against it.
// Problems in a workflow file come as workflow.Errors with FILE:LINE:COL
// (the caller's uses: for a missing file, a cycle or too deep a nest).
func (l *CallLoader) Load(ctx context.Context, w *workflow.Workflow) (Calls, error) {
	root := ""
	if l.Root != "" {
		var err error
		if root, err = filepath.Abs(l.Root); err != nil {
			return nil, err
		}
	}
	return l.load(ctx, w, origin{dir: root}, []string{w.File})
}

// origin is the repository a workflow comes from: the caller's (remote
// is empty), or a remote one, owner/repo@version.
type origin struct {
	dir    string
	remote string
}

func (l *CallLoader) load(ctx context.Context, w *workflow.Workflow, from origin, stack []string) (Calls, error) {
	var calls Calls
	var errs workflow.Errors
	for _, j := range w.Jobs {
		if j.Call == nil {
			continue
		}
		c := j.Call
		fail := func(format string, args ...any) {
			errs = append(errs, &workflow.Error{File: w.File, Pos: c.Uses.Pos, Kind: "call", Message: fmt.Sprintf("job %s: ", j.ID) + fmt.Sprintf(format, args...)})
		}
		ref, err := workflow.ParseActionRef(c.Uses.Raw)
		if err != nil {
			fail("%s: %v", c.Uses.Raw, err)
			continue
		}
		if l.LocalOnly && (!ref.Local || from.remote != "") {
			continue
		}
		if len(stack) >= workflow.MaxCallDepth {
			fail("calling %s goes past GitHub's limit of %d levels of workflows (%s)", c.Uses.Raw, workflow.MaxCallDepth, strings.Join(stack, " → "))
			continue
		}
		file, name, at, err := l.locate(ctx, ref, from)
		if err != nil {
			fail("%v", err)
			continue
		}
		for _, s := range stack {
			if s == name {
				fail("%s calls itself: %s → %s", c.Uses.Raw, strings.Join(stack, " → "), name)
				err = errors.New("cycle")
				break
			}
		}
		if err != nil {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			fail("read %s: %v", c.Uses.Raw, unwrapPath(err))
			continue
		}
		callee, all := workflow.Check(name, data, l.Options)
		if es := all.Only(workflow.SeverityError); len(es) > 0 {
			errs = append(errs, es...)
			continue
		}
		if es := workflow.CheckCall(w, j, callee); len(es) > 0 {
			errs = append(errs, es...)
			continue
		}
		sub, err := l.load(ctx, callee, at, append(stack[:len(stack):len(stack)], name))
		if err != nil {
			var es workflow.Errors
			if !errors.As(err, &es) {
				return nil, err
			}
			errs = append(errs, es...)
			continue
		}
		if calls == nil {
			calls = Calls{}
		}
		calls[j] = &Called{Ref: ref, Workflow: callee, Root: at.dir, Calls: sub, Source: data}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return calls, nil
}

// locate finds the file a reference names: its path, the name errors
// and the stack show (the path in the caller's repository, else
// owner/repo/path@version), and the repository it lives in.
func (l *CallLoader) locate(ctx context.Context, ref workflow.ActionRef, from origin) (file, name string, at origin, err error) {
	at = from
	switch {
	case !ref.Local && l.Actions == nil:
		return "", "", at, fmt.Errorf("%s: remote reusable workflows need an action source", ref.Raw)
	case !ref.Local:
		if at.dir, _, err = l.Actions.Fetch(ctx, ref.Owner, ref.Repo, ref.Version, l.Token); err != nil {
			return "", "", at, err
		}
		at.remote = ref.Owner + "/" + ref.Repo + "@" + ref.Version
	case from.dir == "":
		return "", "", at, fmt.Errorf("%s: a local reusable workflow needs the repository's folder", ref.Raw)
	}
	name = ref.Path
	if owner, version, ok := strings.Cut(at.remote, "@"); ok {
		name = owner + "/" + ref.Path + "@" + version
	}
	if file, err = securejoin.SecureJoin(at.dir, ref.Path); err != nil {
		return "", "", at, fmt.Errorf("%s: %w", ref.Raw, err)
	}
	return file, name, at, nil
}

// unwrapPath drops the absolute path from a file error: the reference
// names the file already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// loadCalls loads what the plan's workflow calls (CallLoader), local
// workflows from the repository's folder, remote ones with opts.Actions.
func (p *Plan) loadCalls(ctx context.Context, opts Options) (Calls, error) {
	needed := false
	for _, j := range p.Workflow.Jobs {
		needed = needed || j.Call != nil
	}
	if !needed {
		return nil, nil
	}
	l := &CallLoader{Actions: opts.Actions, Token: opts.Secrets["GITHUB_TOKEN"]}
	if opts.Builtins != nil {
		l.Options.Builtins = opts.Builtins
	}
	if p.Repo.Path != "" && !strings.Contains(p.Repo.Path, "://") {
		l.Root = p.Repo.Path
	}
	return l.Load(ctx, p.Workflow)
}
