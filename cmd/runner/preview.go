package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/preview"
)

func newPreviewCmd() *cobra.Command {
	var repo, addr, state, dir, pidsLimit, memoryLimit string
	cmd := &cobra.Command{
		Use:   "preview",
		Short: "Serve a repository's k8s/ Deployments locally behind its Ingress routes",
		Long: `Serve the app that a repository's Kubernetes manifests describe, on this
machine: pull the images the Deployments name, start replicas containers of
each (runc, as test-image does), and serve them behind a reverse proxy that
follows the Ingress paths (host names ignored; longest path wins; replicas
take turns). When the images live on a loopback registry that does not
answer, runner's registry in the state dir is served there for the pull.

--repo may be a bare repository: the manifests then come from its HEAD (e.g.
the origin that the workflow's bot commit went to). Each container gets
Docker's default confinement (seccomp profile, capabilities) and the
--pids-limit and --memory-limit cgroup limits. Ctrl-C removes everything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var limits container.Limits
			var err error
			if limits.Pids, err = container.ParsePidsLimit(pidsLimit); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("preview: --pids-limit: %w", err)}
			}
			if limits.Memory, err = container.ParseMemoryLimit(memoryLimit); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("preview: --memory-limit: %w", err)}
			}
			repoDir, err := findRepo(repo)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if gitrepo.IsURL(repoDir) {
				return &exitError{code: 2, err: fmt.Errorf("preview: --repo %s: want a local repository", gitrepo.RedactURL(repoDir))}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			p, err := preview.Start(ctx, preview.Options{
				Repo: repoDir, ManifestDir: dir, Addr: addr, StateDir: state, Log: os.Stderr, Limits: limits,
			})
			if err != nil {
				if ctx.Err() != nil {
					return &exitError{code: 130, err: errors.New("")}
				}
				return &exitError{code: 1, err: err}
			}
			// Cleanup on a context that outlives the signal.
			defer func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if err := p.Close(cctx); err != nil {
					fmt.Fprintln(os.Stderr, "runner: preview cleanup:", err)
				}
				fmt.Fprintln(os.Stderr, "preview stopped; containers removed")
			}()
			printPreview(p)
			select {
			case <-ctx.Done():
				return &exitError{code: 130, err: errors.New("")}
			case err := <-p.Served():
				return &exitError{code: 1, err: fmt.Errorf("preview: %w", err)}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&repo, "repo", "", "repository (work tree, directory or bare repository; default: the git repository of the current directory)")
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address the proxy listens on")
	f.StringVar(&state, "state", ".runner", "runner's state dir (its registry/ is served when needed)")
	f.StringVar(&dir, "dir", "k8s", "manifests directory in the repository")
	f.StringVar(&pidsLimit, "pids-limit", strconv.FormatInt(container.DefaultLimits.Pids, 10), "most processes and threads each container may have at once; -1: no limit")
	f.StringVar(&memoryLimit, "memory-limit", fmt.Sprintf("%dg", container.DefaultLimits.Memory>>30), "most memory each container may use (bytes, or a size such as 512m or 4g); past it a process is OOM-killed; -1: no limit")
	return cmd
}

func printPreview(p *preview.Preview) {
	fmt.Printf("manifests: %s\n\n", p.Source)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POD\tIMAGE\tPORTS")
	for _, pod := range p.Pods {
		for i, c := range pod.Containers {
			var ports []string
			for port, a := range c.Ports() {
				ports = append(ports, fmt.Sprintf("%d→%s", port, a))
			}
			sort.Strings(ports)
			fmt.Fprintf(tw, "%s\t%s\t%s\n", pod.Name, pod.Deployment.Containers[i].Image, strings.Join(ports, " "))
		}
	}
	tw.Flush()
	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tSERVICE\tPODS")
	for _, r := range p.Routes {
		path := r.Path + " (" + r.PathType + ")"
		if r.Default {
			path = "(default backend)"
		}
		var pods []string
		for _, t := range r.Targets {
			pods = append(pods, fmt.Sprintf("%s ×%d :%d", t.Deployment.Name, t.Deployment.Replicas, t.Port))
		}
		fmt.Fprintf(tw, "%s\t%s:%d\t%s\n", path, r.Service, r.Port, strings.Join(pods, ", "))
	}
	tw.Flush()
	fmt.Printf("\npreview at %s (Ctrl-C stops it and removes the containers)\n", p.URL())
}
