package workflow

import (
	"sort"
	"strings"
)

// ruleUses resolves every `uses:` to a built-in and checks its `with:`.
func ruleUses() *rule {
	return &rule{step: func(v *validator, _ *Job, s *Step) {
		if !s.Uses.Set {
			return
		}
		var (
			name   string
			inputs []ActionInput
			ok     bool
		)
		if v.opts.Builtins != nil {
			name, inputs, ok = v.opts.Builtins.Action(s.Uses.Raw)
		}
		if !ok {
			// Not a built-in: an action of a repository or of the
			// workspace, resolved when the job is set up.
			if _, err := ParseActionRef(s.Uses.Raw); err != nil {
				builtins := ""
				if v.opts.Builtins != nil {
					builtins = "; built-in actions are: " + strings.Join(v.opts.Builtins.Names(), ", ")
				}
				v.errf(s.Uses.Pos, "uses", "unknown action %q: %v%s", s.Uses.Raw, err, builtins)
			}
			return
		}
		declared := map[string]bool{}
		var inputNames []string
		for _, in := range inputs {
			declared[in.Name] = true
			inputNames = append(inputNames, in.Name)
		}
		sort.Strings(inputNames)
		given := map[string]bool{}
		for _, kv := range s.With {
			given[kv.Key] = true
			if !declared[kv.Key] {
				v.errf(kv.Value.Pos, "uses", "action %q has no input %q; its inputs are: %s", name, kv.Key, strings.Join(inputNames, ", "))
			}
		}
		for _, in := range inputs {
			if in.Required && in.Default == "" && !given[in.Name] {
				v.errf(s.Uses.Pos, "uses", "action %q needs input %q", name, in.Name)
			}
		}
	}}
}
