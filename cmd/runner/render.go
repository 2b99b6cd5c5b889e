package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/render"
)

// newRenderCmd is `runner render`, a jinjanate work-alike.
func newRenderCmd() *cobra.Command {
	var (
		vars []string
		out  string
	)
	cmd := &cobra.Command{
		Use:   "render TEMPLATE [DATA_FILE]",
		Short: "Render a Jinja template like jinjanate (to stdout or -o FILE)",
		Long: `Render one Jinja template the way jinjanate does: trailing newline kept,
undefined variables are errors, extensions do and loopcontrols, no autoescape,
include/extends/import names relative to the current directory.

The context is DATA_FILE (format from its extension: .json, .yaml, .yml, .env)
or, without it, the environment variables; --var KEY=VALUE pairs override both.
Nothing is written when rendering fails (exit status 1).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ctx map[string]any
			if len(args) == 2 {
				data, err := render.LoadData(args[1])
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				ctx = data
			} else {
				ctx = render.EnvVars(os.Environ())
			}
			extra, err := render.ParseVars(vars...)
			if err != nil {
				return err // usage error: exit 2
			}
			for k, v := range extra {
				ctx[k] = v
			}
			eng, err := render.New(render.Options{})
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			var buf bytes.Buffer
			if err := eng.Render(&buf, args[0], ctx); err != nil {
				return &exitError{code: 1, err: err}
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(buf.Bytes())
			} else {
				err = render.WriteFileAtomic(out, buf.Bytes())
			}
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("write output: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&vars, "var", nil, "set a variable KEY=VALUE (repeatable; overrides data and environment)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of stdout (atomically)")
	return cmd
}
