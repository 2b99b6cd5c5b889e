package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/docker/go-units"
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

// migrateVerbosely imports dir's earlier store, if it has one, before a
// server starts (Serve would do it quietly), and says what it did.
func migrateVerbosely(ctx context.Context, dir string, w io.Writer) error {
	if !registry.HasOldStore(dir) {
		return nil
	}
	fmt.Fprintf(w, "registry: importing the earlier store in %s\n", dir)
	rep, err := registry.Migrate(ctx, dir)
	if err != nil || rep == nil {
		return err
	}
	fmt.Fprintf(w, "registry: imported %d repositories, %d manifests, %d tags, %d blobs\n", rep.Repositories, rep.Manifests, rep.Tags, rep.Blobs)
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "registry: not imported (kept in %s/unimported): %s\n", dir, s)
	}
	return nil
}

// serverFlags are `registry serve`'s flags for auth, TLS and proxying.
type serverFlags struct {
	htpasswd, tlsCert, tlsKey, proxy string
}

func (f *serverFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.htpasswd, "htpasswd", "", "require basic auth checked against this htpasswd file (bcrypt entries, htpasswd -B); needed when --addr is not a loopback address")
	cmd.Flags().StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (with --tls-key)")
	cmd.Flags().StringVar(&f.tlsKey, "tls-key", "", "the PEM key of --tls-cert")
	cmd.Flags().StringVar(&f.proxy, "proxy", "", "be a pull-through cache of the registry at this URL, e.g. https://registry-1.docker.io (pushes refused; offline, serves what it has)")
}

func (f *serverFlags) scheme() string {
	if f.tlsCert != "" {
		return "https"
	}
	return "http"
}

// options turns the flags into server options. Whether the listen
// address needs --htpasswd is decided by registry serve.
func (f *serverFlags) options() ([]registry.ServerOption, error) {
	var opts []registry.ServerOption
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if f.tlsCert != "" {
		opts = append(opts, registry.WithTLS(f.tlsCert, f.tlsKey))
	}
	if f.proxy != "" {
		opts = append(opts, registry.WithProxy(f.proxy))
	}
	if f.htpasswd != "" {
		opts = append(opts, registry.WithHtpasswd(f.htpasswd))
	}
	return opts, nil
}

func newRegistryGCCmd() *cobra.Command {
	var dir string
	var o registry.GCOptions
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete the blobs (and with --delete-untagged, manifests) no image needs",
		Long: `Run distribution's garbage collector on --dir: blobs that no manifest of any
repository references are deleted; with --delete-untagged, manifests that no tag
points at go first (and then their blobs). Deleting a tag or a manifest through the
API frees no disk space until gc runs.

gc refuses to run while a registry server serves --dir (runner registry serve, or a
runner exec/serve's embedded registry): a blob pushed while gc marks would be
deleted. Servers hold a shared lock on DIR/.serve.lock and gc an exclusive one, so
a server does not start while gc runs either. --dry-run lists what would go.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.DryRun {
				o.Verbose = true // the listing is what a dry run is for
			}
			rep, err := registry.GarbageCollect(cmd.Context(), dir, o)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			out := cmd.OutOrStdout()
			if o.DryRun {
				fmt.Fprintf(out, "dry run: %d blobs, %s on disk; nothing deleted\n", rep.BlobsBefore, units.BytesSize(float64(rep.BytesBefore)))
				return nil
			}
			fmt.Fprintf(out, "deleted %d blobs, %s; %d blobs, %s left\n", rep.BlobsBefore-rep.BlobsAfter,
				units.BytesSize(float64(rep.BytesBefore-rep.BytesAfter)), rep.BlobsAfter, units.BytesSize(float64(rep.BytesAfter)))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".runner/registry", "registry directory")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be deleted, delete nothing")
	cmd.Flags().BoolVar(&o.DeleteUntagged, "delete-untagged", false, "also delete manifests no tag points at")
	cmd.Flags().BoolVarP(&o.Verbose, "verbose", "v", false, "list what is marked and deleted")
	return cmd
}
