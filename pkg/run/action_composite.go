package run

import (
	"context"
	"fmt"

	"github.com/birdflock/runner/pkg/actions"
)

// runComposite runs a composite action's steps.
func (jr *legRun) runComposite(ctx context.Context, st *stepRun, act *actions.Action, env map[string]string, fc fileCommandSet, out *lineWriter) error {
	return fmt.Errorf("%s: composite actions are not implemented yet", st.s.Uses.Raw)
}
