package workflow

import (
	"fmt"
	"sort"
	"strings"
)

// CheckActionInputs checks the with: of step s (in file) against the
// inputs of the action it uses, as GitHub does when the job is set up: a
// required input without a default that is not given is an error; a key
// the action does not declare is a warning (GitHub's "Unexpected
// input(s)"); a deprecated input given is a warning.
func CheckActionInputs(file string, s *Step, a *Action) Errors {
	var errs Errors
	add := func(pos Pos, sev Severity, format string, args ...any) {
		errs = append(errs, &Error{File: file, Pos: pos, Kind: "action", Message: fmt.Sprintf(format, args...), Severity: sev})
	}
	var valid []string
	for _, in := range a.Inputs {
		valid = append(valid, in.Name)
	}
	sort.Strings(valid)
	given := map[string]bool{}
	for _, kv := range s.With {
		given[strings.ToLower(kv.Key)] = true
		in := a.Input(kv.Key)
		switch {
		case in == nil:
			list := "it declares no inputs"
			if hint := didYouMean(kv.Key, valid); hint != "" {
				list = strings.TrimPrefix(hint, "; ")
			} else if len(valid) > 0 {
				list = "valid inputs are: " + strings.Join(valid, ", ")
			}
			add(kv.KeyPos, SeverityWarning, "action %q has no input %q; %s", s.Uses.Raw, kv.Key, list)
		case in.DeprecationMessage != "":
			add(kv.KeyPos, SeverityWarning, "input %q of action %q is deprecated: %s", in.Name, s.Uses.Raw, in.DeprecationMessage)
		}
	}
	for _, in := range a.Inputs {
		if in.IsRequired() && !in.Default.Set && !given[strings.ToLower(in.Name)] {
			add(s.Uses.Pos, SeverityError, "action %q needs input %q (required in %s)", s.Uses.Raw, in.Name, a.File)
		}
	}
	errs.sort()
	return errs
}
