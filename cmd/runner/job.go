package main

import (
	"cmp"
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
)

// newJobCmd is `runner job --stdio`, hidden: the remote end of one job leg
// (a Kubernetes pod's command, runner exec --executor process's child).
// The leg's spec and source come on stdin, its frames go to stdout
// (docs/kubernetes.md, "How a job runs remotely"). The state dir is
// $RUNNER_STATE (the actions cache: a volume a pod template may mount),
// else a temporary one removed at the end.
func newJobCmd() *cobra.Command {
	var stdio bool
	var cancelTimeout time.Duration
	cmd := &cobra.Command{
		Use:    "job --stdio",
		Short:  "Run one job leg for a controller, over stdin and stdout",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !stdio {
				return &exitError{code: 2, err: errors.New("job: --stdio is the only mode")}
			}
			state := os.Getenv("RUNNER_STATE")
			if state == "" {
				dir, err := os.MkdirTemp("", "runner-leg-")
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				defer os.RemoveAll(dir)
				state = dir
			}
			// A node copied beside runner (a pod's job container:
			// gets the template image's), named in the environment
			// rather than by a flag, so that a runner older than its
			// controller reads the spec and refuses its version. Not
			// the steps' business: unset.
			bundledNode := os.Getenv(run.BundledNodeEnv)
			os.Unsetenv(run.BundledNodeEnv)
			// The tool cache an image names, as GitHub's runner takes it.
			toolCache := cmp.Or(os.Getenv("RUNNER_TOOL_CACHE"), os.Getenv("AGENT_TOOLSDIRECTORY"))
			opts := run.Options{StateDir: state, Builtins: steps.Default(), BundledNode: bundledNode, ToolCache: toolCache}
			// SIGTERM (a pod deleted) cancels the leg like Ctrl-C: its
			// if: always() steps still run, until a second signal or
			// --cancel-timeout.
			ctx, _, stop := interruptible(&opts, cancelTimeout)
			defer stop()
			if err := run.ServeLeg(ctx, os.Stdin, os.Stdout, opts); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&stdio, "stdio", false, "read the leg's spec and source from stdin, write its frames to stdout")
	f.DurationVar(&cancelTimeout, "cancel-timeout", 5*time.Minute, "after SIGTERM, how long the steps that still run (if: always(), post steps) get before they are ended")
	return cmd
}
