package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/birdflock/runner/pkg/container"
)

func newImagesCmd() *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List and prune the unpacked images of job and service containers (STATE/images)",
		Long: `Job containers, services and docker:// steps run on images unpacked once per
manifest digest into STATE/images and shared read-only by every container;
Docker actions built from a Dockerfile are kept as OCI archives in
STATE/docker-actions (docs/containers.md). Nothing removes either on its own:
prune does.`,
	}
	cmd.PersistentFlags().StringVar(&state, "state", ".runner", "state directory")
	cache := func() *container.ImageCache {
		return &container.ImageCache{Dir: filepath.Join(state, "images")}
	}
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the unpacked images, most recently used first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := cache().List()
			if err != nil {
				return err
			}
			var total int64
			for _, e := range list {
				total += e.Size
				use := ""
				if e.InUse {
					use = "  in use"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %11d bytes  used %s%s\n", e.Digest, e.Size, e.LastUsed.Local().Format(time.DateTime), use)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d images, %d bytes\n", len(list), total)
			return nil
		},
	}
	var olderThan time.Duration
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove the unpacked images no running container uses and no job used for --older-than",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if olderThan < 0 {
				return &exitError{code: 2, err: fmt.Errorf("--older-than %s: want a duration ≥ 0", olderThan)}
			}
			removed, err := cache().Prune(context.Background(), olderThan)
			var total int64
			for _, e := range removed {
				total += e.Size
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s (%d bytes)\n", e.Digest, e.Size)
			}
			archives, aerr := pruneDockerActions(filepath.Join(state, "docker-actions"), olderThan)
			for _, a := range archives {
				total += a.size
				fmt.Fprintf(cmd.OutOrStdout(), "removed docker action image %s (%d bytes)\n", a.name, a.size)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d images removed, %d bytes\n", len(removed)+len(archives), total)
			return errors.Join(err, aerr)
		},
	}
	prune.Flags().DurationVar(&olderThan, "older-than", time.Hour, "keep images a job used more recently than this (0: all not in use)")
	cmd.AddCommand(ls, prune)
	return cmd
}

type prunedArchive struct {
	name string
	size int64
}

// pruneDockerActions removes the built Docker action images (dir/KEY.tar)
// not used for olderThan, each under the lock the build takes.
func pruneDockerActions(dir string, olderThan time.Duration) ([]prunedArchive, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []prunedArchive
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".tar") || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		lock, err := os.OpenFile(p+".lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return out, err
		}
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			lock.Close() // a job builds or uses it now
			continue
		}
		if st, err := os.Stat(p); err == nil && time.Since(st.ModTime()) >= olderThan {
			if err := os.Remove(p); err != nil {
				lock.Close()
				return out, err
			}
			out = append(out, prunedArchive{strings.TrimSuffix(e.Name(), ".tar"), st.Size()})
		}
		lock.Close()
	}
	return out, nil
}
