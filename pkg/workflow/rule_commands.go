package workflow

import (
	"regexp"
)

// workflowCommand finds a deprecated workflow command written by a run:
// script (echo "::set-output name=x::1").
var workflowCommand = regexp.MustCompile(`::(set-output|save-state|set-env|add-path)\b`)

// ruleCommands reports the workflow commands GitHub replaced by files:
// set-env and add-path are disabled (GitHub fails the step, and runner
// would ignore them: errors); set-output and save-state still work but are
// deprecated (warnings). Each message names the replacement.
func ruleCommands() *rule {
	return &rule{step: func(v *validator, j *Job, s *Step) {
		if !s.Run.Set {
			return
		}
		for _, m := range workflowCommand.FindAllStringSubmatchIndex(s.Run.Raw, -1) {
			name := s.Run.Raw[m[2]:m[3]]
			pos := offsetPos(s.Run, m[0])
			switch name {
			case "set-env":
				v.errf(pos, "deprecated-commands", "job %s step %d: the ::set-env command is disabled on GitHub; write NAME=VALUE lines to \"$GITHUB_ENV\"", j.ID, s.Index+1)
			case "add-path":
				v.errf(pos, "deprecated-commands", "job %s step %d: the ::add-path command is disabled on GitHub; append the directory to \"$GITHUB_PATH\"", j.ID, s.Index+1)
			case "set-output":
				v.warnf(pos, "deprecated-commands", "job %s step %d: the ::set-output command is deprecated; write name=value lines to \"$GITHUB_OUTPUT\"", j.ID, s.Index+1)
			case "save-state":
				v.warnf(pos, "deprecated-commands", "job %s step %d: the ::save-state command is deprecated; write name=value lines to \"$GITHUB_STATE\"", j.ID, s.Index+1)
			}
		}
	}}
}
