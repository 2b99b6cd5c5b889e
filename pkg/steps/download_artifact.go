package steps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// DownloadArtifact copies artifacts of this run into the workspace, like
// actions/download-artifact: one named artifact into path, or every
// artifact (or those matching pattern) into path/<name>.
type DownloadArtifact struct{}

func (DownloadArtifact) Spec() Spec {
	return Spec{
		Name:        "download-artifact",
		Aliases:     []string{"actions/download-artifact"},
		Description: "Copy artifacts of this run into the workspace.",
		Inputs: []Input{
			{Name: "name", Description: "artifact to download; empty: all"},
			{Name: "path", Description: "destination; default: the workspace"},
			{Name: "pattern", Description: "glob over artifact names when name is empty"},
			{Name: "merge-multiple", Default: "false", Description: "put several artifacts in the same directory"},
			{Name: "github-token"}, {Name: "repository"}, {Name: "run-id"},
		},
		Outputs: []string{"download-path"},
	}
}

func (DownloadArtifact) Run(ctx context.Context, s *Context) error {
	dest, err := s.downloadDir(s.Input("path"))
	if err != nil {
		return err
	}
	if rid := s.Input("run-id"); rid != "" && rid != s.Run.ID {
		return fmt.Errorf("run-id %q: only artifacts of the current run (%s) are available", rid, s.Run.ID)
	}
	if name := s.Input("name"); name != "" {
		if err := checkArtifactName(name); err != nil {
			return err
		}
		src := filepath.Join(s.Run.ArtifactsDir, name)
		if st, err := os.Stat(src); err != nil || !st.IsDir() {
			return fmt.Errorf("artifact %q not found; available: %s", name, strings.Join(artifactNames(s.Run.ArtifactsDir), ", "))
		}
		if err := copyTree(src, dest); err != nil {
			return err
		}
		s.Logf("Downloaded artifact %q to %s", name, dest)
		s.SetOutput("download-path", dest)
		return nil
	}
	names := artifactNames(s.Run.ArtifactsDir)
	merge := s.Input("merge-multiple") == "true"
	n := 0
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if pat := s.Input("pattern"); pat != "" {
			if ok, _ := doublestar.Match(pat, name); !ok {
				continue
			}
		}
		to := filepath.Join(dest, name)
		if merge {
			to = dest
		}
		if err := copyTree(filepath.Join(s.Run.ArtifactsDir, name), to); err != nil {
			return err
		}
		n++
	}
	s.Logf("Downloaded %d artifacts to %s", n, dest)
	s.SetOutput("download-path", dest)
	return nil
}

// downloadDir resolves the path input inside the workspace, or inside
// RUNNER_TEMP for an absolute path there; symbolic links on the way are
// resolved inside that root.
func (s *Context) downloadDir(p string) (string, error) {
	if p == "" {
		p = "."
	}
	if filepath.IsAbs(p) && s.Temp != "" {
		if rel, err := filepath.Rel(s.Temp, filepath.Clean(p)); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return underRoot(s.Temp, p, "RUNNER_TEMP")
		}
	}
	return underWorkspace(s.Workspace, p)
}

func artifactNames(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}
