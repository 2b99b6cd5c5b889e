package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/serve"
)

func newServeCmd() *cobra.Command {
	var (
		configPath, listen, state, repo string
		capacity                        int
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the self-hosted runner service: dispatch API, webhooks, polling, queue, web UI",
		Long: `Run the self-hosted runner service. Without --config it watches the git
repository of the current directory (or --repo). Flags override the config
file; RUNNER_TOKEN and RUNNER_WEBHOOK_SECRET override the token and webhook
secret. Without a token, one is generated into STATE/token.`,
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
			if v := os.Getenv("RUNNER_TOKEN"); v != "" {
				cfg.Token = v
			}
			if v := os.Getenv("RUNNER_WEBHOOK_SECRET"); v != "" {
				cfg.WebhookSecret = v
			}
			if repo != "" || len(cfg.Repositories) == 0 {
				dir, err := findRepo(repo)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				cfg.Repositories = append(cfg.Repositories, serve.Repo{Path: dir, Name: "local/" + filepath.Base(dir)})
			}
			srv, err := serve.New(*cfg, serve.Options{})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			eff := srv.Config()
			ln, err := net.Listen("tcp", eff.Listen)
			if err != nil {
				srv.Close(time.Second)
				return &exitError{code: 2, err: err}
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
			srv.Start()
			fmt.Fprintf(os.Stderr, "runner serve: listening on http://%s (state %s)\n", ln.Addr(), eff.State)
			if eff.TokenFile == "" && os.Getenv("RUNNER_TOKEN") == "" {
				fmt.Fprintf(os.Stderr, "runner serve: API token in %s\n", filepath.Join(eff.State, "token"))
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
	f.IntVar(&capacity, "capacity", 0, "runs at once (default 2)")
	return cmd
}
