package yamllint

import "fmt"

var ruleKeyOrdering = &rule{
	ID:       "key-ordering",
	Type:     tokenRule,
	NewState: func() any { return &keyStack{} },
	CheckToken: func(_ Options, t tokenArgs, state any, _ []rune) []Problem {
		parent := state.(*keyStack).update(t)
		if parent == nil {
			return nil
		}
		v := t.next.Value
		// strcoll in the C locale compares code points; any earlier key
		// greater than v is the same as the maximum being greater.
		if len(parent.keys) > 0 && parent.keys[0] > v {
			return []Problem{problem(t.next.Start.Line+1, t.next.Start.Column+1,
				fmt.Sprintf(`wrong ordering of key "%s" in mapping`, v))}
		}
		if len(parent.keys) == 0 || v > parent.keys[0] {
			parent.keys = []string{v} // keep only the maximum
		}
		return nil
	},
}
