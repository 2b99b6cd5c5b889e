package workflow

import "regexp"

var stepIDPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// ruleSteps checks step ids: well-formed and unique within their job.
func ruleSteps() *rule {
	var seen map[string]Pos
	return &rule{
		job: func(*validator, *Job) { seen = map[string]Pos{} },
		step: func(v *validator, j *Job, s *Step) {
			if !s.ID.Set {
				return
			}
			id := s.ID.Raw
			if !stepIDPattern.MatchString(id) {
				v.errf(s.ID.Pos, "id", "step id %q must start with a letter or _ and contain only letters, digits, - and _", id)
				return
			}
			if p, dup := seen[id]; dup {
				v.errf(s.ID.Pos, "id", "step id %q is already used in job %q at line %d", id, j.ID, p.Line)
				return
			}
			seen[id] = s.ID.Pos
		},
	}
}
