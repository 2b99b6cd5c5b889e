package run

import (
	"context"
	"fmt"

	"github.com/birdflock/runner/pkg/actions"
)

// runNode runs a JavaScript action's main script with node.
func (jr *legRun) runNode(ctx context.Context, st *stepRun, act *actions.Action, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	return fmt.Errorf("%s: JavaScript actions are not implemented yet", st.s.Uses.Raw)
}
