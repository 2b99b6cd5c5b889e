package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/jobcache"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// openCache opens the job cache under the state dir.
func openCache(state string, maxBytes int64) (*jobcache.Store, error) {
	if state == "" {
		state = ".runner"
	}
	return jobcache.Open(filepath.Join(state, "cache"), maxBytes)
}

// cacheFlags are runner exec's job cache flags.
type cacheFlags struct {
	no       bool   // --no-cache
	max      string // --cache-max
	registry string // --cache-registry
}

func (c *cacheFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&c.no, "no-cache", false, "run every job, even those whose result is in the job cache (docs/cache.md)")
	f.StringVar(&c.max, "cache-max", "2G", "size cap of the job cache under the state dir; least recently used entries go first")
	f.StringVar(&c.registry, "cache-registry", "", "registry repository that shares job cache entries between machines, e.g. 127.0.0.1:5000/owner/runner-cache (credentials from the docker config; --registry-mirror applies)")
}

// options opens the cache under state for a run.
func (c *cacheFlags) options(opts *run.Options, state string) error {
	max, err := parseSize(c.max)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--cache-max: %w", err)}
	}
	if opts.Cache, err = openCache(state, max); err != nil {
		return err
	}
	opts.NoCache = c.no
	if c.registry != "" {
		if opts.Cache.Remote, err = cacheRemote(c.registry, opts.Settings.RegistryMirror); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--cache-registry: %w", err)}
		}
	}
	return nil
}

// cacheRemote is the registry repository that shares the job cache,
// reached with runner's registry client: the docker config's credentials,
// mirrors (REGISTRY=URL, comma-separated), plain HTTP for loopback.
func cacheRemote(repo, mirrors string) (*jobcache.Remote, error) {
	m, err := registry.ParseMirrors(mirrors)
	if err != nil {
		return nil, err
	}
	return jobcache.NewRemote(repo, registry.New(registry.Options{Mirrors: m}))
}

// parseSize reads 500M, 2G, 1048576 (jobcache.ParseSize).
func parseSize(s string) (int64, error) { return jobcache.ParseSize(s) }

func newCacheCmd() *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "List, remove and prune the job cache (STATE/cache)",
		Long: `The job cache holds the results of jobs that opt in with a job-level env entry
RUNNER_CACHE (docs/cache.md): their outputs, artifacts and step summary, under a
key over everything that can change them.`,
	}
	cmd.PersistentFlags().StringVar(&state, "state", ".runner", "state directory")
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the cache entries, most recently used first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openCache(state, 0)
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			var total int64
			for _, e := range list {
				total += e.Size
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %-30s run %-4d %9d bytes  used %s\n", e.Key[:12], e.Workflow+" "+e.Job, e.Run, e.Size, e.LastUsed.Local().Format(time.DateTime))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d entries, %d bytes\n", len(list), total)
			return nil
		},
	}
	rm := &cobra.Command{
		Use:   "rm KEY...",
		Short: "Remove the entries whose key starts with KEY (at least 4 hex digits)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openCache(state, 0)
			if err != nil {
				return err
			}
			for _, k := range args {
				removed, err := s.Remove(k)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				if len(removed) == 0 {
					return &exitError{code: 1, err: fmt.Errorf("no cache entry %s", k)}
				}
				for _, r := range removed {
					fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", r)
				}
			}
			return nil
		},
	}
	var max string
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove least recently used entries until the cache fits --max (0: remove all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseSize(max)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--max: %w", err)}
			}
			s, err := openCache(state, 0)
			if err != nil {
				return err
			}
			removed, err := s.Prune(n)
			for _, e := range removed {
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s (%s %s, %d bytes)\n", e.Key[:12], e.Workflow, e.Job, e.Size)
			}
			return err
		},
	}
	prune.Flags().StringVar(&max, "max", "0", "size to keep, e.g. 500M, 2G")
	cmd.AddCommand(ls, rm, prune)
	return cmd
}

// addExplainFlags adds runner plan's --explain-cache and what it needs
// that plan may not have yet (--secret, --secret-file, --state).
func addExplainFlags(cmd *cobra.Command, fl *execFlags, explain *string) {
	f := cmd.Flags()
	f.StringVar(explain, "explain-cache", "", "print the job cache key of JOB's legs and the parts it is computed from (docs/cache.md)")
	if f.Lookup("secret") == nil {
		f.StringArrayVar(&fl.secrets, "secret", nil, "with --explain-cache: secret K=V, or K from the environment, as given to exec (only a digest is shown)")
	}
	if f.Lookup("secret-file") == nil {
		f.StringVar(&fl.secretFile, "secret-file", "", "with --explain-cache: dotenv file of secrets")
	}
	if f.Lookup("state") == nil {
		f.StringVar(&fl.state, "state", ".runner", "state directory: the job cache")
	}
}

// explainCache prints the key parts of job's legs (runner plan
// --explain-cache JOB).
func explainCache(fl *execFlags, w *workflow.Workflow, repoDir, jobID string) error {
	rp, opts, err := fl.plan(w, repoDir)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	opts.Builtins = steps.Default()
	if opts.Cache, err = openCache(fl.state, 0); err != nil {
		return err
	}
	legs, err := run.ExplainCache(context.Background(), rp, opts, jobID)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	for _, l := range legs {
		fmt.Printf("%s:\n%s", l.Leg, l.Key.Explain())
		if !l.Complete {
			fmt.Printf("  (incomplete: the outputs of needed jobs are known in the run; its job log has the full key)\n")
		}
	}
	return nil
}
