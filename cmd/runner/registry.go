package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/serve"
)

func newRegistryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Runner's own image registry",
	}
	cmd.AddCommand(newRegistryServeCmd(), newRegistryAddressCmd(), newRegistryPushCmd(), newRegistryPullCmd(), newRegistryCopyCmd(), newRegistryTagCmd())
	cmd.AddCommand(newRegistryMigrateCmd(), newRegistryGCCmd())
	return cmd
}

// clientFlags are the flags every client subcommand shares.
type clientFlags struct {
	insecure bool
	username string
	stdin    bool
	mirrors  registry.Mirrors
}

func (f *clientFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "allow plain HTTP and unverified TLS to non-loopback registries")
	cmd.Flags().StringVarP(&f.username, "username", "u", "", "registry user (default: the docker config's credentials)")
	cmd.Flags().BoolVar(&f.stdin, "password-stdin", false, "read the password from standard input")
	cmd.Flags().Var(&f.mirrors, "registry-mirror", "REGISTRY=URL tried before REGISTRY on pulls, e.g. docker.io=http://127.0.0.1:5000 (repeatable; also $"+registry.EnvMirrors+")")
}

// client builds a registry client; credentials apply to the registry of
// target (a repository or reference).
func (f *clientFlags) client(cmd *cobra.Command, target string) (*registry.Client, error) {
	env, err := registry.MirrorsFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	m := f.mirrors
	if m.Empty() {
		m = env
	}
	o := registry.Options{Insecure: f.insecure, Mirrors: m, Log: cmd.ErrOrStderr()}
	if f.username != "" {
		if !f.stdin {
			return nil, errors.New("--username needs --password-stdin")
		}
		b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
		if err != nil {
			return nil, err
		}
		host, _, _ := strings.Cut(target, "/")
		o.Credentials = []registry.Credential{{Registry: host, Username: f.username, Password: strings.TrimRight(string(b), "\r\n")}}
	}
	return registry.New(o), nil
}

// openLocal opens an OCI archive file or an OCI layout directory.
func openLocal(path string) (*registry.Artifact, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return registry.OpenLayout(path, "")
	}
	return registry.OpenArchive(path, "")
}

func newRegistryPushCmd() *cobra.Command {
	var f clientFlags
	var tags []string
	cmd := &cobra.Command{
		Use:     "push ARCHIVE|LAYOUT REPOSITORY",
		Short:   "Push an OCI archive or layout under one or more tags",
		Example: "  runner registry push backend.tar 127.0.0.1:5000/owner/birds-app-back-end -t latest -t $(git rev-parse HEAD)",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(cmd, args[1])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			a, err := openLocal(args[0])
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			defer a.Close()
			p, err := c.Push(cmd.Context(), a, args[1], tags)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), p.Digest)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringSliceVarP(&tags, "tag", "t", []string{"latest"}, "tag to push (repeatable)")
	return cmd
}

func newRegistryPullCmd() *cobra.Command {
	var f clientFlags
	var archive, layoutDir string
	cmd := &cobra.Command{
		Use:     "pull REFERENCE",
		Short:   "Pull an image (through the mirrors) into an OCI archive or layout",
		Example: "  runner registry pull --registry-mirror docker.io=http://127.0.0.1:5000 alpine:latest --archive alpine.tar",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (archive == "") == (layoutDir == "") {
				return &exitError{code: 2, err: errors.New("give one of --archive or --layout")}
			}
			c, err := f.client(cmd, args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			a, err := c.Pull(cmd.Context(), args[0])
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			// The archive names the image by its tag (none for a digest).
			ref := ""
			if r, err := c.ParseReference(args[0]); err == nil {
				if t, ok := r.(name.Tag); ok {
					ref = t.TagStr()
				}
			}
			if archive != "" {
				err = registry.WriteArchive(archive, a, ref)
			} else {
				err = registry.WriteLayout(layoutDir, a, ref)
			}
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			d, _ := a.Digest()
			fmt.Fprintln(cmd.OutOrStdout(), d)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&archive, "archive", "", "write an OCI archive to this file")
	cmd.Flags().StringVar(&layoutDir, "layout", "", "add the image to the OCI layout in this directory")
	return cmd
}

func newRegistryCopyCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:     "copy SOURCE DESTINATION",
		Short:   "Copy an image between registries (source pulled through the mirrors)",
		Example: "  runner registry copy 127.0.0.1:5000/owner/app:abc ghcr.io/owner/app:abc",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(cmd, args[1])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			p, err := c.Copy(cmd.Context(), args[0], args[1])
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), p.Digest)
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newRegistryTagCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "tag REFERENCE TAG",
		Short: "Point another tag at an image, in the same repository",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(cmd, args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			ref, err := c.Tag(cmd.Context(), args[0], args[1])
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), ref)
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newRegistryServeCmd() *cobra.Command {
	var sf serverFlags
	var addr, dir string
	var verbose, insecurePublic bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve an OCI registry that keeps blobs and manifests in a directory",
		Long: `Serve an OCI distribution registry (distribution/distribution with filesystem
storage). Blobs, manifests and tags live in --dir, so a restarted registry serves
the same images; content of runner's earlier store there is imported first.
Without --addr it listens on the directory's stable address (see 'runner registry
address'), so image references that name it stay valid. Plain HTTP unless
--tls-cert/--tls-key; an address other machines can reach needs --htpasswd.
Stop it with Ctrl-C or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var opts []registry.ServerOption
			if verbose {
				opts = append(opts, registry.WithRequestLog(cmd.ErrOrStderr()))
			}
			sopts, err := sf.options()
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			opts = append(opts, sopts...)
			listen := addr
			if listen == "" {
				home, serving, err := registry.Probe(ctx, dir)
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				if serving {
					return &exitError{code: 1, err: fmt.Errorf("runner's registry for %s already serves on %s", dir, home)}
				}
				listen = home
			}
			// The stable address is a loopback one; an --addr may not be.
			resolved, loopback, err := serve.IsLoopback(listen)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--addr %s: %w", listen, err)}
			}
			if !loopback && sf.htpasswd == "" {
				if !insecurePublic {
					return &exitError{code: 2, err: fmt.Errorf("refusing to listen on %s, which other machines can reach, without authentication: anyone there could push and overwrite images; "+
						"give --htpasswd FILE (and --tls-cert/--tls-key), listen on 127.0.0.1, or pass --insecure-public to serve them all", listen)}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "registry serve: warning: listening on %s without authentication: anyone who reaches it can push and overwrite images\n", listen)
			}
			if !loopback && sf.htpasswd != "" && sf.tlsCert == "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "registry serve: warning: listening on %s without TLS: passwords travel in clear text (give --tls-cert and --tls-key)\n", listen)
			}
			listen = resolved
			if err := migrateVerbosely(ctx, dir, cmd.ErrOrStderr()); err != nil {
				return &exitError{code: 1, err: err}
			}
			s, err := registry.Serve(ctx, listen, dir, opts...)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registry serving %s on %s://%s\n", dir, sf.scheme(), s.Addr())
			<-ctx.Done()
			if err := s.Close(); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&addr, "addr", "", "address to listen on (port 0 picks a free port; default: the directory's stable address, 127.0.0.1:5000 when it was free the first time)")
	cmd.Flags().StringVar(&dir, "dir", ".runner/registry", "directory holding blobs, manifests and tags")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every request to stderr")
	cmd.Flags().BoolVar(&insecurePublic, "insecure-public", false, "allow an --addr other machines can reach without --htpasswd")
	return cmd
}

func newRegistryAddressCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "address",
		Short: "Print the stable address of the registry in a directory, and whether it is served",
		Long: `Print the address runner's registry for --dir is served on. The first time a
directory is used, runner records 127.0.0.1:5000 when that port is free, else a free
loopback port, in DIR/home.addr, and keeps it: image references and manifests that
name the registry stay the same from run to run.

Exit status: 0 when runner's registry for --dir answers there, 3 when nothing serves
it yet, 1 when another server holds the address (with a message saying what to do).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, serving, err := registry.Probe(cmd.Context(), dir)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), addr)
			if !serving {
				return &exitError{code: 3}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".runner/registry", "directory holding the registry's blobs, manifests and tags")
	return cmd
}
