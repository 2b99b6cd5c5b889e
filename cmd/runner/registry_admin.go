package main

import (
	"errors"
	"fmt"
	"net"

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

// serverFlags are `registry serve`'s flags for auth, TLS and proxying.
type serverFlags struct {
	htpasswd, tlsCert, tlsKey string
}

func (f *serverFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.htpasswd, "htpasswd", "", "require basic auth checked against this htpasswd file (bcrypt entries, htpasswd -B); needed when --addr is not a loopback address")
	cmd.Flags().StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (with --tls-key)")
	cmd.Flags().StringVar(&f.tlsKey, "tls-key", "", "the PEM key of --tls-cert")
}

func (f *serverFlags) scheme() string {
	if f.tlsCert != "" {
		return "https"
	}
	return "http"
}

// options turns the flags into server options for a server on listen,
// refusing a registry reachable from other machines without auth.
func (f *serverFlags) options(listen string) ([]registry.ServerOption, error) {
	var opts []registry.ServerOption
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if f.tlsCert != "" {
		opts = append(opts, registry.WithTLS(f.tlsCert, f.tlsKey))
	}
	if f.htpasswd != "" {
		opts = append(opts, registry.WithHtpasswd(f.htpasswd))
	} else if !loopbackListen(listen) {
		return nil, fmt.Errorf("--addr %s is reachable from other machines: give --htpasswd FILE (and --tls-cert/--tls-key), or listen on 127.0.0.1", listen)
	}
	return opts, nil
}

// loopbackListen reports whether a listen address (host:port) accepts
// only connections from this machine: a loopback IP or localhost. An
// empty host listens on every interface.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
