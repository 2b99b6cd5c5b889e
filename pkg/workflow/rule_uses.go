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
		if v.opts.Builtins == nil {
			v.errf(s.Uses.Pos, "uses", "unknown action %q: no built-in actions are available", s.Uses.Raw)
			return
		}
		name, inputs, ok := v.opts.Builtins.Action(s.Uses.Raw)
		if !ok {
			v.errf(s.Uses.Pos, "uses", "unknown action %q; built-in actions are: %s", s.Uses.Raw, strings.Join(v.opts.Builtins.Names(), ", "))
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
