package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/serve"
)

func newServeCmd() *cobra.Command {
	var (
		configPath, listen, state, repo string
		capacity                        int
		poll, cancelTimeout             time.Duration
		mirrors                         []string
		actionsSource                   string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the self-hosted runner service: dispatch API, webhooks, polling, queue, web UI",
		Long: `Run the self-hosted runner service. Without --config it watches the git
repository of the current directory (or --repo: a path, or a URL that is
mirrored under STATE/repos). Flags override the config
file; RUNNER_TOKEN and RUNNER_WEBHOOK_SECRET override the token and webhook
secret. Without a token, one is generated into STATE/token. Every API call,
reads included, needs the token (public-read: true in the config opens
reads). A --listen address other machines can reach (0.0.0.0, ::, a public
IP or name) is refused with a generated token: choose one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := &serve.Config{}
			if configPath != "" {
				var err error
				if cfg, err = serve.LoadConfig(configPath); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			if listen != "" {
				cfg.Listen = listen
			}
			if state != "" {
				cfg.State = state
			}
			if capacity > 0 {
				cfg.Capacity = capacity
			}
			if cancelTimeout != 0 {
				cfg.CancelTimeout = cancelTimeout
			}
			if len(mirrors) > 0 {
				cfg.RegistryMirrors = mirrors
			}
			if len(cfg.RegistryMirrors) == 0 && os.Getenv(registry.EnvMirrors) != "" {
				cfg.RegistryMirrors = []string{os.Getenv(registry.EnvMirrors)}
			}
			if actionsSource != "" {
				cfg.ActionsSource = actionsSource
			}
			if cfg.ActionsSource == "" {
				cfg.ActionsSource = os.Getenv(actions.EnvSource)
			}
			if len(cfg.RegistryMirrors) > 0 {
				// serve.New hands them to the built-ins, never to steps.
				if _, err := registry.ParseMirrors(cfg.RegistryMirrors...); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("registry-mirrors: %w", err)}
				}
			}
			// The environment overrides the file's key and its -file variant.
			if v := os.Getenv("RUNNER_TOKEN"); v != "" {
				cfg.Token, cfg.TokenFile = v, ""
			}
			if v := os.Getenv("RUNNER_WEBHOOK_SECRET"); v != "" {
				cfg.WebhookSecret, cfg.WebhookSecretFile = v, ""
			}
			// Steps inherit this process's environment: not these.
			tokenFromEnv := os.Getenv("RUNNER_TOKEN") != ""
			os.Unsetenv("RUNNER_TOKEN")
			os.Unsetenv("RUNNER_WEBHOOK_SECRET")
			if repo != "" || len(cfg.Repositories) == 0 {
				r, err := repoFlag(repo)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				r.Poll = poll
				cfg.Repositories = append(cfg.Repositories, r)
			} else if poll != 0 {
				return &exitError{code: 2, err: errors.New("--poll applies to --repo (set poll: per repository in the config file)")}
			}
			srv, err := serve.New(*cfg, serve.Options{})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			eff := srv.Config()
			addr, warning, err := srv.CheckListen()
			if err != nil {
				srv.Close(time.Second)
				return &exitError{code: 2, err: err}
			}
			if warning != "" {
				fmt.Fprintf(os.Stderr, "runner serve: warning: %s\n", warning)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				srv.Close(time.Second)
				return &exitError{code: 2, err: err}
			}
			ln = srv.Listener(ln)
			hs := srv.HTTPServer()
			srv.Start()
			fmt.Fprintf(os.Stderr, "runner serve: listening on %s://%s (state %s)\n", srv.Scheme(), ln.Addr(), eff.State)
			switch {
			case srv.TokenFile() != "":
				fmt.Fprintf(os.Stderr, "runner serve: API token in %s\n", srv.TokenFile())
			case tokenFromEnv:
				fmt.Fprintln(os.Stderr, "runner serve: API token from $RUNNER_TOKEN")
			default:
				fmt.Fprintf(os.Stderr, "runner serve: API token from %s (token)\n", configPath)
			}
			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			select {
			case err := <-errc:
				srv.Close(5 * time.Second)
				return &exitError{code: 1, err: err}
			case <-sigs:
			}
			fmt.Fprintln(os.Stderr, "runner serve: stopping")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			hs.Shutdown(ctx)
			if err := srv.Close(10 * time.Second); err != nil && !errors.Is(err, context.Canceled) {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "config file (YAML; see README)")
	f.StringVar(&listen, "listen", "", "listen address (default 127.0.0.1:8080)")
	f.StringVar(&state, "state", "", "state directory (default .runner/serve)")
	f.StringVar(&repo, "repo", "", "watch this repository too (default without config: the current one)")
	f.IntVar(&capacity, "capacity", 0, "jobs at once, over all runs (default 2)")
	f.StringArrayVar(&mirrors, "registry-mirror", nil, "registry mirror REGISTRY=URL, e.g. docker.io=http://127.0.0.1:5000 (repeatable; config registry-mirrors, also $RUNNER_REGISTRY_MIRROR)")
	f.StringVar(&actionsSource, "actions-source", "", "where owner/repo@ref actions come from: a URL template with {owner} and {repo}, or a folder holding OWNER/REPO (config actions-source, also $"+actions.EnvSource+"; default GitHub)")
	f.DurationVar(&cancelTimeout, "cancel-timeout", 0, "after a cancel, how long the steps that still run (if: always(), post steps) get before they are ended; force-cancel ends them at once (config cancel-timeout; default 5m, GitHub's)")
	f.DurationVar(&poll, "poll", 0, "poll --repo's branch this often, e.g. 30s (default 0: no polling)")
	return cmd
}

// repoFlag turns --repo (default: the current repository) into a watched
// repository: a URL (scheme://, scp-like user@host:path) becomes a mirrored
// url: repository, like the config key; anything else a local path.
func repoFlag(flag string) (serve.Repo, error) {
	if gitrepo.IsURL(flag) {
		r := serve.Repo{URL: flag}
		r.Name = r.DefaultName()
		return r, nil
	}
	dir, err := findRepo(flag)
	if err != nil {
		return serve.Repo{}, err
	}
	r := serve.Repo{Path: dir}
	r.Name = r.DefaultName()
	return r, nil
}
