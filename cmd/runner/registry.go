package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/registry"
)

func newRegistryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Runner's own image registry",
	}
	cmd.AddCommand(newRegistryServeCmd())
	return cmd
}

func newRegistryServeCmd() *cobra.Command {
	var addr, dir string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve an OCI registry that keeps blobs and manifests in a directory",
		Long: `Serve an OCI distribution registry over plain HTTP. Blobs, manifests and tags
live in --dir, so a restarted registry serves the same images. Stop it with
Ctrl-C or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var opts []registry.ServerOption
			if verbose {
				opts = append(opts, registry.WithRequestLog(cmd.ErrOrStderr()))
			}
			s, err := registry.Serve(ctx, addr, dir, opts...)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registry serving %s on http://%s\n", dir, s.Addr())
			<-ctx.Done()
			if err := s.Close(); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:5000", "address to listen on (port 0 picks a free port)")
	cmd.Flags().StringVar(&dir, "dir", ".runner/registry", "directory holding blobs, manifests and tags")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every request to stderr")
	return cmd
}
