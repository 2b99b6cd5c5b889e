package workflow

import (
	"sort"
	"strings"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// contextProps are the properties of the contexts with a fixed shape,
// from GitHub's contexts reference (lower-cased, as expressions match
// them). github.event is the webhook payload and takes anything.
var contextProps = map[string][]string{
	"github": {
		"action", "action_path", "action_ref", "action_repository", "action_status", "actor", "actor_id",
		"api_url", "base_ref", "env", "event", "event_name", "event_path", "graphql_url", "head_ref", "job",
		"job_workflow_sha", "output", "path", "ref", "ref_name", "ref_protected", "ref_type", "repository",
		"repository_id", "repository_owner", "repository_owner_id", "repositoryurl", "retention_days",
		"run_attempt", "run_id", "run_number", "secret_source", "server_url", "sha", "state", "step_summary",
		"token", "triggering_actor", "workflow", "workflow_ref", "workflow_sha", "workspace",
	},
	"runner":   {"arch", "debug", "environment", "name", "os", "temp", "tool_cache", "workspace"},
	"strategy": {"fail-fast", "job-index", "job-total", "max-parallel"},
	"job": {
		"check_run_id", "container", "services", "status",
		"workflow_file_path", "workflow_ref", "workflow_repository", "workflow_sha",
	},
}

// objectProps are the properties of contextProps that hold objects or
// arrays; the others have no properties of their own.
var objectProps = map[string]bool{
	"github.event": true, "job.container": true, "job.services": true,
}

// ruleRefProps checks the properties of github, runner, strategy and
// job: a misspelt one is null on GitHub, silently.
func ruleRefProps() *rule {
	return &rule{expr: func(v *validator, e *exprNode) {
		e.accesses(func(p expr.Path, pos Pos) {
			props, ok := contextProps[p.Segments[0]]
			if !ok || len(p.Segments) < 2 || p.Segments[1] == "*" {
				return
			}
			name := p.Segments[1]
			if contains(props, name) {
				switch {
				case p.Segments[0] == "job" && name == "services" && len(p.Segments) > 2 && p.Segments[2] != "*":
					if e.job != nil && !hasService(e.job, p.Segments[2]) {
						v.errf(pos, "unknown-property", "%s: job.services.%s: job %s has no service %q%s",
							e.where, p.Segments[2], e.jobID(), p.Segments[2], serviceList(e.job))
					} else if len(p.Segments) > 3 && p.Segments[3] != "*" && !contains(serviceProps, p.Segments[3]) {
						v.errf(pos, "unknown-property", "%s: job.services.%s has no property %q; its properties: id, network, ports",
							e.where, p.Segments[2], p.Segments[3])
					}
				case len(p.Segments) > 2 && !objectProps[p.Segments[0]+"."+name]:
					v.errf(pos, "unknown-property", "%s: %s.%s is a string, number or boolean: it has no property %q (the access is always null)",
						e.where, p.Segments[0], name, p.Segments[2])
				}
				return
			}
			hint := didYouMean(name, props)
			if hint == "" {
				sorted := append([]string(nil), props...)
				sort.Strings(sorted)
				hint = "; its properties: " + strings.Join(sorted, ", ")
			}
			v.errf(pos, "unknown-property", "%s: the %s context has no property %q%s", e.where, p.Segments[0], name, hint)
		})
	}}
}

func (e *exprNode) jobID() string {
	if e.job == nil {
		return "-"
	}
	return e.job.ID
}

// serviceProps are the properties of job.services.<label>.
var serviceProps = []string{"id", "network", "ports"}

// hasService reports whether j has a service labelled label (expressions
// match names without regard to case).
func hasService(j *Job, label string) bool {
	for _, s := range j.Services {
		if strings.EqualFold(s.Label, label) {
			return true
		}
	}
	return false
}

func serviceList(j *Job) string {
	if len(j.Services) == 0 {
		return " (it has no services:)"
	}
	var names []string
	for _, s := range j.Services {
		names = append(names, s.Label)
	}
	return "; its services: " + strings.Join(names, ", ")
}
