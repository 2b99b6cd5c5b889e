package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/steps"
)

func newActionsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "actions [NAME]",
		Short: "List the built-in actions with their inputs and outputs",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set := steps.Default()
			out := cmd.OutOrStdout()
			for _, name := range set.Names() {
				if len(args) == 1 && args[0] != name {
					continue
				}
				b, _ := set.Lookup(name)
				spec := b.Spec()
				fmt.Fprintf(out, "%s", spec.Name)
				if len(spec.Aliases) > 0 {
					fmt.Fprintf(out, " (also %s@*)", strings.Join(spec.Aliases, "@*, "))
				}
				fmt.Fprintf(out, "\n  %s\n", spec.Description)
				for _, in := range spec.Inputs {
					extra := ""
					switch {
					case in.Required:
						extra = " (required)"
					case in.Default != "":
						extra = fmt.Sprintf(" (default %q)", in.Default)
					}
					fmt.Fprintf(out, "  with.%s%s: %s\n", in.Name, extra, in.Description)
				}
				if len(spec.Outputs) > 0 {
					fmt.Fprintf(out, "  outputs: %s\n", strings.Join(spec.Outputs, ", "))
				}
			}
			return nil
		},
	}
}
