package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/render"
)

// newRenderCmd is `runner render`, a jinjanate work-alike.
func newRenderCmd() *cobra.Command {
	var (
		vars    []string
		out     string
		format  string
		lenient bool
	)
	cmd := &cobra.Command{
		Use:   "render TEMPLATE [DATA_FILE]",
		Short: "Render a Jinja template like jinjanate (to stdout or -o FILE)",
		Long: `Render one Jinja template the way jinjanate does: trailing newline kept,
undefined variables are errors, extensions do and loopcontrols, no autoescape,
include/extends/import names relative to the current directory.

The context is DATA_FILE (format from its extension: .json, .yaml, .yml, .env)
or, without it, the environment variables; DATA_FILE - reads stdin (with
--format). --var KEY=VALUE pairs override both.
Nothing is written when rendering fails (exit status 1).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ctx map[string]any
			switch {
			case len(args) == 2 && args[1] == "-":
				if format == "" {
					return errors.New("data from stdin (-) needs --format")
				}
				data, err := render.ReadData("<stdin>", format, cmd.InOrStdin())
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				ctx = data
			case len(args) == 2:
				f, err := os.Open(args[1])
				if err != nil {
					return &exitError{code: 1, err: fmt.Errorf("data file: %w", err)}
				}
				data, err := render.ReadData(args[1], format, f)
				f.Close()
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				ctx = data
			default:
				ctx = render.EnvVars(os.Environ())
			}
			extra, err := render.ParseVars(vars...)
			if err != nil {
				return err // usage error: exit 2
			}
			for k, v := range extra {
				ctx[k] = v
			}
			eng, err := render.New(render.Options{Lenient: lenient})
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
	cmd.Flags().StringVar(&format, "format", "", "data format: json, yaml or env (default: from DATA_FILE's extension; required for - = stdin)")
	cmd.Flags().BoolVar(&lenient, "undefined", false, "render undefined variables as empty text instead of failing")
	return cmd
}
