package yamllint

import (
	"sort"
	"strings"

	"github.com/birdflock/runner/pkg/pyyaml"
)

var truthyValues = []string{"YES", "Yes", "yes", "NO", "No", "no", "TRUE", "True", "true",
	"FALSE", "False", "false", "ON", "On", "on", "OFF", "Off", "off"}

func truthyChoices() []any {
	out := make([]any, len(truthyValues))
	for i, v := range truthyValues {
		out[i] = v
	}
	return out
}

var ruleTruthy = &rule{
	ID:   "truthy",
	Type: tokenRule,
	Options: []option{
		{name: "allowed-values", kind: optList, choices: truthyChoices(),
			repr: "['YES', 'Yes', 'yes', 'NO', 'No', 'no', 'TRUE', 'True', 'true', 'FALSE', 'False', 'false', 'ON', 'On', 'on', 'OFF', 'Off', 'off']",
			dflt: []any{"true", "false"}},
		boolOpt("check-keys", true),
	},
	NewState: func() any { return &truthyState{} },
	CheckToken: func(o Options, t tokenArgs, state any, _ []rune) []Problem {
		if t.prev != nil && t.prev.Kind == pyyaml.Tag {
			return nil
		}
		tok := t.token
		if !o.bool("check-keys") && t.prev != nil && t.prev.Kind == pyyaml.Key && tok.Kind == pyyaml.Scalar {
			return nil
		}
		if tok.Kind != pyyaml.Scalar || tok.Style != 0 {
			return nil
		}
		st := state.(*truthyState)
		if st.allowed == nil {
			st.allowed = map[string]bool{}
			for _, a := range o.list("allowed-values") {
				s, _ := a.(string)
				st.names = append(st.names, s)
				st.allowed[s] = true
			}
			sort.Strings(st.names)
		}
		for _, v := range truthyValues {
			if v == tok.Value && !st.allowed[v] {
				return []Problem{problem(tok.Start.Line+1, tok.Start.Column+1,
					"truthy value should be one of ["+strings.Join(st.names, ", ")+"]")}
			}
		}
		return nil
	},
}

// truthyState caches the allowed values of one lint run.
type truthyState struct {
	allowed map[string]bool
	names   []string // sorted, duplicates kept as yamllint prints them
}
