// Command runner runs GitHub Actions workflows on this machine.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func main() {
	root := &cobra.Command{
		Use:           "runner",
		Short:         "Run GitHub Actions workflows locally, without Docker or GitHub",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newExecCmd(),
		newPlanCmd(),
		newCheckCmd(),
		newEvalCmd(),
		newActionsCmd(),
		newRenderCmd(),
		newLintCmd(),
		newValidateCmd(),
		newRegistryCmd(),
		newPreviewCmd(),
		newServeCmd(),
		newDispatchCmd(),
		newCacheCmd(),
		newJobCmd(),
		newImagesCmd(),
	)
	if err := root.Execute(); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil && ee.err.Error() != "" {
				fmt.Fprintln(os.Stderr, "runner:", ee.err)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "runner:", err)
		os.Exit(2) // usage errors
	}
}
