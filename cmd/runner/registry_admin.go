package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/registry"
)

// The registry's maintenance subcommands: they work on a registry
// directory, not through a server.

func newRegistryMigrateCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Import the images and tags of runner's earlier registry store in a directory",
		Long: `Import what runner's earlier hand-written store kept in --dir (blobs/,
manifests/, repositories/) into the distribution storage the registry now uses
(DIR/docker/registry/v2), then remove the old files. 'runner registry serve' and
the embedded registry do this on their first start; this command does it ahead
of time and reports. Manifests or tags that cannot be imported are listed and
kept in DIR/unimported.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := registry.Migrate(cmd.Context(), dir)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			out := cmd.OutOrStdout()
			if rep == nil {
				fmt.Fprintf(out, "nothing to import in %s\n", dir)
				return nil
			}
			fmt.Fprintf(out, "imported %d repositories, %d manifests, %d tags, %d blobs\n", rep.Repositories, rep.Manifests, rep.Tags, rep.Blobs)
			for _, s := range rep.Skipped {
				fmt.Fprintf(out, "not imported: %s\n", s)
			}
			if len(rep.Skipped) > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d items not imported; they are kept in %s/unimported", len(rep.Skipped), dir)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".runner/registry", "registry directory")
	return cmd
}
