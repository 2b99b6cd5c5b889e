package workflow

import (
	"fmt"
	"regexp"
	"strings"
)

var stepIDPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// ruleSteps checks ids: a step id is well-formed, does not start with __
// (GitHub keeps those for itself) and is unique within its job; job ids
// are unique. Both compare case-insensitively, as GitHub does (the
// contexts that hold them match keys that way).
func ruleSteps() *rule {
	var seen map[string]Value
	return &rule{
		workflow: func(v *validator, w *Workflow) {
			jobs := map[string]*Job{}
			for _, j := range w.Jobs {
				lid := strings.ToLower(j.ID)
				if d, dup := jobs[lid]; dup && d.ID != j.ID {
					v.errf(j.Pos, "id", "job id %q is the same as %q at line %d: job ids are case-insensitive", j.ID, d.ID, d.Line)
					continue
				}
				jobs[lid] = j
			}
		},
		job: func(*validator, *Job) { seen = map[string]Value{} },
		step: func(v *validator, j *Job, s *Step) {
			if !s.ID.Set {
				return
			}
			id := s.ID.Raw
			if !stepIDPattern.MatchString(id) {
				v.errf(s.ID.Pos, "id", "step id %q must start with a letter or _ and contain only letters, digits, - and _", id)
				return
			}
			if strings.HasPrefix(id, "__") {
				v.errf(s.ID.Pos, "id", "step id %q starts with __, which GitHub keeps for the ids it generates", id)
				return
			}
			if d, dup := seen[strings.ToLower(id)]; dup {
				note := ""
				if d.Raw != id {
					note = fmt.Sprintf(" as %q (step ids are case-insensitive)", d.Raw)
				}
				where := fmt.Sprintf("in job %q", j.ID)
				if v.action != nil {
					where = "in the action"
				}
				v.errf(s.ID.Pos, "id", "step id %q is already used %s at line %d%s", id, where, d.Line, note)
				return
			}
			seen[strings.ToLower(id)] = s.ID
		},
	}
}
