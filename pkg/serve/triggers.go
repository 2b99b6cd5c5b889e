package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/birdflock/runner/pkg/serve/store"
	"github.com/birdflock/runner/pkg/workflow"
)

// ErrInvalid is a request that names existing things but does not fit
// them (bad inputs, unknown ref, no workflow_dispatch trigger): HTTP 422.
var ErrInvalid = errors.New("invalid")

// Dispatch queues a workflow_dispatch run of workflow (a file name, with
// or without extension) at ref (default: the repository's branch).
func (s *Server) Dispatch(repoName, workflowID, ref string, inputs map[string]string) (*store.Run, error) {
	rp := s.repoByName(repoName)
	if rp == nil {
		return nil, fmt.Errorf("repository %q: %w", repoName, ErrNotFound)
	}
	g, err := rp.open(rp.cfg.URL != "")
	if err != nil {
		return nil, err
	}
	if ref == "" {
		ref = rp.branch(g)
	}
	full, hash, err := resolve(g, ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	wf, err := findWorkflowFile(rp, g, hash, workflowID)
	if err != nil {
		return nil, err
	}
	w, errs := workflow.Load(wf.Path, wf.Source, workflow.Options{Builtins: s.builtins})
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, errs.Error())
	}
	if w.On.Dispatch == nil {
		return nil, fmt.Errorf("%w: Workflow does not have 'workflow_dispatch' trigger", ErrInvalid)
	}
	if s.workflowDisabled(rp.name, wf.Path) {
		return nil, fmt.Errorf("%w: Cannot trigger a 'workflow_dispatch' on a disabled workflow", ErrInvalid)
	}
	if err := checkInputs(w.On.Dispatch, inputs); err != nil {
		return nil, err
	}
	if inputs == nil {
		inputs = map[string]string{}
	}
	in, _ := json.Marshal(inputs)
	r := &store.Run{
		Repo: rp.name, WorkflowFile: wf.Path, WorkflowName: workflowName(w), Source: string(wf.Source),
		Event: "workflow_dispatch", Ref: full, SHA: hash.String(), Actor: actor(g, hash), Inputs: string(in),
	}
	payload := map[string]any{
		"inputs": inputs, "ref": full, "workflow": wf.Path,
		"repository": repoPayload(rp.name), "sender": map[string]any{"login": r.Actor},
	}
	data, _ := json.Marshal(payload)
	r.Payload = string(data)
	if err := s.enqueue(r, w); err != nil {
		return nil, err
	}
	return r, nil
}

func repoPayload(name string) map[string]any {
	_, base, _ := strings.Cut(name, "/")
	return map[string]any{"full_name": name, "name": base}
}

func workflowName(w *workflow.Workflow) string {
	if w.Name.Set {
		return w.Name.Raw
	}
	return w.File
}

func findWorkflowFile(rp *repo, g *git.Repository, at plumbing.Hash, id string) (*workflowFile, error) {
	wfs, err := rp.workflows(g, at)
	if err != nil {
		return nil, err
	}
	for _, wf := range wfs {
		base := path.Base(wf.Path)
		if id == base || id == wf.Path || id == strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml") {
			return &wf, nil
		}
	}
	return nil, fmt.Errorf("workflow %q: %w", id, ErrNotFound)
}

// checkInputs checks dispatch inputs like GitHub: known names, required
// ones present, values of their type.
func checkInputs(d *workflow.Dispatch, inputs map[string]string) error {
	known := map[string]bool{}
	var problems []string
	for _, def := range d.Inputs {
		known[def.Name] = true
		v, ok := inputs[def.Name]
		if !ok {
			if !def.Default.Set {
				if def.Required {
					problems = append(problems, fmt.Sprintf("Required input '%s' not provided", def.Name))
				}
				continue
			}
			// The engine checks the default the same way: refuse now
			// what the run would fail on.
			v = def.Default.Raw
		}
		if err := workflow.CheckInput(def, v); err != nil {
			problems = append(problems, err.Error())
		}
	}
	for k := range inputs {
		if !known[k] {
			problems = append(problems, fmt.Sprintf("Unexpected inputs provided: [%q]", k))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// push queues a run of every workflow at after whose on.push filters
// match the ref and the changed files (nil: not known).
func (s *Server) push(rp *repo, g *git.Repository, ref string, after plumbing.Hash, changed []string, payload map[string]any) ([]*store.Run, error) {
	wfs, err := rp.workflows(g, after)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(payload)
	var out []*store.Run
	for _, wf := range wfs {
		w, errs := workflow.Load(wf.Path, wf.Source, workflow.Options{Builtins: s.builtins})
		if len(errs) > 0 {
			s.logf("%s at %s: invalid workflow, not run:\n%s", wf.Path, after.String()[:7], errs.Error())
			continue
		}
		if !w.On.Has("push") || !w.On.Push.Matches(ref, changed) {
			continue
		}
		if s.workflowDisabled(rp.name, wf.Path) {
			s.logf("%s: disabled, not run", wf.Path)
			continue
		}
		r := &store.Run{
			Repo: rp.name, WorkflowFile: wf.Path, WorkflowName: workflowName(w), Source: string(wf.Source),
			Event: "push", Ref: ref, SHA: after.String(), Actor: actor(g, after), Payload: string(data),
		}
		if err := s.enqueue(r, w); err != nil {
			s.logf("%s: %v", wf.Path, err)
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// pushPayload is the github.event of a push found by polling.
func pushPayload(rp *repo, ref string, before, after plumbing.Hash, author string) map[string]any {
	return map[string]any{
		"ref": ref, "before": before.String(), "after": after.String(),
		"repository":  repoPayload(rp.name),
		"pusher":      map[string]any{"name": author},
		"sender":      map[string]any{"login": author},
		"head_commit": map[string]any{"id": after.String()},
	}
}

// pollLoop checks the repository's branch every Poll interval.
func (s *Server) pollLoop(rp *repo) {
	t := time.NewTicker(rp.cfg.Poll)
	defer t.Stop()
	for {
		if err := s.poll(rp); err != nil {
			s.logf("poll %s: %v", rp.name, err)
		} else {
			rp.polls.Add(1)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll compares the branch head with the one last seen and queues the
// push workflows for a new one. The first look only records the head.
func (s *Server) poll(rp *repo) error {
	g, err := rp.open(true)
	if err != nil {
		return err
	}
	branch := rp.branch(g)
	ref := "refs/heads/" + branch
	_, head, err := resolve(g, ref)
	if err != nil {
		return err
	}
	last, err := s.store.Head(rp.name, branch)
	if err != nil {
		return err
	}
	if last == head.String() {
		return nil
	}
	if last != "" {
		before := plumbing.NewHash(last)
		changed, err := changedFiles(g, before, head)
		if err != nil {
			changed = nil // the old head is gone (force push): paths are not known
		}
		who := actor(g, head)
		runs, err := s.push(rp, g, ref, head, changed, pushPayload(rp, ref, before, head, who))
		if err != nil {
			return err
		}
		s.logf("%s: %s → %s on %s: %d run(s)", rp.name, last[:7], head.String()[:7], branch, len(runs))
	}
	return s.store.SetHead(rp.name, branch, head.String())
}
