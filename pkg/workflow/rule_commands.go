package workflow

import (
	"regexp"
	"strings"
)

// workflowCommand finds a deprecated workflow command written by a run:
// script (echo "::set-output name=x::1").
var workflowCommand = regexp.MustCompile(`::(set-output|save-state|set-env|add-path)\b`)

// ruleCommands warns about the workflow commands GitHub replaced by
// files: set-env and add-path are disabled (GitHub and runner fail the
// step that prints them, unless ACTIONS_ALLOW_UNSECURE_COMMANDS turns them
// on); set-output and save-state still work but are deprecated. They are
// warnings, as the workflow runs (and fails) as on GitHub. Each message
// names the replacement.
func ruleCommands() *rule {
	var w *Workflow
	return &rule{workflow: func(_ *validator, wf *Workflow) { w = wf }, step: func(v *validator, j *Job, s *Step) {
		if !s.Run.Set {
			return
		}
		// ACTIONS_ALLOW_UNSECURE_COMMANDS=true turns set-env and
		// add-path back on (GitHub and runner): then they are a risk, not
		// a mistake.
		allowed := w != nil && unsecureAllowed(w.Env) || unsecureAllowed(j.Env) || unsecureAllowed(s.Env)
		for _, m := range workflowCommand.FindAllStringSubmatchIndex(s.Run.Raw, -1) {
			name := s.Run.Raw[m[2]:m[3]]
			pos := offsetPos(s.Run, m[0])
			switch name {
			case "set-env", "add-path":
				file, what := "\"$GITHUB_ENV\" (NAME=VALUE lines)", "set-env"
				if name == "add-path" {
					file, what = "\"$GITHUB_PATH\" (one directory a line)", "add-path"
				}
				if allowed {
					v.warnf(pos, "deprecated-commands", "%s: ::%s works only because ACTIONS_ALLOW_UNSECURE_COMMANDS is true, which lets any output of the step change the environment; write to %s", v.stepWhere(j, s), what, file)
				} else {
					v.warnf(pos, "deprecated-commands", "%s: the ::%s command is disabled: the step will fail when it prints it (unless ACTIONS_ALLOW_UNSECURE_COMMANDS is true); write to %s", v.stepWhere(j, s), what, file)
				}
			case "set-output":
				v.warnf(pos, "deprecated-commands", "%s: the ::set-output command is deprecated; write name=value lines to \"$GITHUB_OUTPUT\"", v.stepWhere(j, s))
			case "save-state":
				v.warnf(pos, "deprecated-commands", "%s: the ::save-state command is deprecated; write name=value lines to \"$GITHUB_STATE\"", v.stepWhere(j, s))
			}
		}
	}}
}

func unsecureAllowed(env []KV) bool {
	for _, kv := range env {
		if kv.Key == "ACTIONS_ALLOW_UNSECURE_COMMANDS" && strings.EqualFold(strings.TrimSpace(kv.Value.Raw), "true") {
			return true
		}
	}
	return false
}
