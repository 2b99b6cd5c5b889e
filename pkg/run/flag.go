package run

import (
	"strings"

	"github.com/birdflock/runner/pkg/workflow"
	"github.com/birdflock/runner/pkg/workflow/expr"
)

// evalFlag evaluates a boolean key (fail-fast, continue-on-error). GitHub
// reads `false` there as the boolean it is in YAML; the engine's values
// keep only their text, and the text "false" is a non-empty string, which
// is truthy. So the texts true and false are the booleans, whether
// written or computed; any other value is truthy as in an expression.
func (r *runState) evalFlag(v workflow.Value, ctxs map[string]any) (bool, error) {
	out, err := r.evalValue(v, ctxs, nil)
	if err != nil {
		return false, err
	}
	if s, ok := out.(string); ok {
		switch strings.TrimSpace(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return expr.Truthy(out), nil
}
