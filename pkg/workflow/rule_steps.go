package workflow

import "regexp"

var stepIDPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// ruleSteps checks step ids: well-formed and unique within their job.
func ruleSteps(v *validator, w *Workflow) {
	for _, j := range w.Jobs {
		seen := map[string]Pos{}
		for _, s := range j.Steps {
			if !s.ID.Set {
				continue
			}
			id := s.ID.Raw
			if !stepIDPattern.MatchString(id) {
				v.errf(s.ID.Pos, "id", "step id %q must start with a letter or _ and contain only letters, digits, - and _", id)
				continue
			}
			if p, dup := seen[id]; dup {
				v.errf(s.ID.Pos, "id", "step id %q is already used in job %q at line %d", id, j.ID, p.Line)
				continue
			}
			seen[id] = s.ID.Pos
		}
	}
}
