package yamllint

import (
	"fmt"

	"github.com/birdflock/runner/pkg/pyyaml"
)

// keyParent is one open collection for key-duplicates and key-ordering.
type keyParent struct {
	isMap bool
	keys  []string
	seen  map[string]bool
}

type keyStack struct{ stack []*keyParent }

// update tracks collections; it returns the innermost mapping when tok is
// a key followed by a scalar, else nil.
func (s *keyStack) update(t tokenArgs) *keyParent {
	switch t.token.Kind {
	case pyyaml.BlockMappingStart, pyyaml.FlowMappingStart:
		s.stack = append(s.stack, &keyParent{isMap: true, seen: map[string]bool{}})
	case pyyaml.BlockSequenceStart, pyyaml.FlowSequenceStart:
		s.stack = append(s.stack, &keyParent{})
	case pyyaml.BlockEnd, pyyaml.FlowMappingEnd, pyyaml.FlowSequenceEnd:
		if len(s.stack) > 0 {
			s.stack = s.stack[:len(s.stack)-1]
		}
	case pyyaml.Key:
		if t.next != nil && t.next.Kind == pyyaml.Scalar && len(s.stack) > 0 && s.stack[len(s.stack)-1].isMap {
			return s.stack[len(s.stack)-1]
		}
	}
	return nil
}

var ruleKeyDuplicates = &rule{
	ID:       "key-duplicates",
	Type:     tokenRule,
	NewState: func() any { return &keyStack{} },
	CheckToken: func(_ Options, t tokenArgs, state any, _ []rune) []Problem {
		parent := state.(*keyStack).update(t)
		if parent == nil {
			return nil
		}
		v := t.next.Value
		if parent.seen[v] && v != "<<" { // `<<` is the merge key
			return []Problem{problem(t.next.Start.Line+1, t.next.Start.Column+1,
				fmt.Sprintf(`duplication of key "%s" in mapping`, v))}
		}
		parent.seen[v] = true
		return nil
	},
}
