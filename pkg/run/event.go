package run

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// refs are github.ref, head_ref and base_ref, which a pull request's
// payload decides, as on GitHub.
type refs struct {
	ref, headRef, baseRef string
}

func eventRefs(event string, payload map[string]any, repoRef string) refs {
	out := refs{ref: repoRef}
	if event != "pull_request" && event != "pull_request_target" && event != "pull_request_review" && event != "pull_request_review_comment" {
		return out
	}
	pr, _ := payload["pull_request"].(map[string]any)
	if pr == nil {
		return out
	}
	branch := func(side string) string {
		m, _ := pr[side].(map[string]any)
		s, _ := m["ref"].(string)
		return s
	}
	out.headRef, out.baseRef = branch("head"), branch("base")
	num := payload["number"]
	if num == nil {
		num = pr["number"]
	}
	switch {
	case event == "pull_request_target":
		if out.baseRef != "" {
			out.ref = "refs/heads/" + out.baseRef
		}
	case num != nil:
		n := fmt.Sprint(num)
		if f, ok := num.(float64); ok {
			n = strconv.FormatFloat(f, 'f', -1, 64)
		}
		out.ref = "refs/pull/" + n + "/merge"
	}
	return out
}

// defaultPayload is a minimal GitHub-like payload for a run without
// --event-file: push, or workflow_dispatch with its inputs.
func (p *Plan) defaultPayload() map[string]any {
	repo := p.Repo
	owner, name, _ := strings.Cut(repo.Repository, "/")
	repository := map[string]any{"full_name": repo.Repository, "name": name, "owner": map[string]any{"login": owner}}
	sender := map[string]any{"login": repo.Actor}
	switch p.Event {
	case "workflow_dispatch":
		return map[string]any{"inputs": eventInputs(nil, p.Inputs), "ref": repo.Ref, "repository": repository, "sender": sender,
			"workflow": path.Join(".github/workflows", filepath.Base(p.Workflow.File))}
	case "push":
		return map[string]any{
			"ref": repo.Ref, "after": repo.SHA, "repository": repository, "sender": sender,
			"pusher":      map[string]any{"name": repo.Actor},
			"head_commit": map[string]any{"id": repo.SHA},
		}
	}
	return map[string]any{"repository": repository, "sender": sender}
}

// eventInputs are github.event.inputs: every dispatch input, as a string
// (GitHub keeps them strings there, unlike the inputs context).
func eventInputs(given, inputs map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range given {
		out[k] = v
	}
	for k, v := range inputs {
		if _, ok := out[k]; ok {
			continue
		}
		switch x := v.(type) {
		case bool:
			out[k] = strconv.FormatBool(x)
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

// writeEvent stores the payload at GITHUB_EVENT_PATH.
func (r *runState) writeEvent() error {
	data, err := json.MarshalIndent(r.plan.Payload, "", "  ")
	if err != nil {
		return fmt.Errorf("event payload: %w", err)
	}
	data = append(data, '\n')
	if err := os.WriteFile(filepath.Join(r.dir, "event.json"), data, 0o644); err != nil {
		return err
	}
	if r.opts.podWorkDir != "" {
		// Where a Docker action's container mounts it from (the pod's
		// _github_workflow volume).
		return os.WriteFile(r.podEventFile(), data, 0o644)
	}
	return nil
}

// podEventFile is the event payload on the pod's _github_workflow volume
// (Options.podWorkDir).
func (r *runState) podEventFile() string {
	return filepath.Join(r.opts.podWorkDir, "_github_workflow", "event.json")
}
