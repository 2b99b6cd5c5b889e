package preview

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/birdflock/runner/pkg/gitrepo"
)

// LoadRepo reads the manifests in sub (e.g. "k8s") of repo: from the work
// tree of a working clone or a plain directory, from HEAD of a bare
// repository (such as the origin that runner's workflow pushes to).
func LoadRepo(ctx context.Context, repo, sub string) (*Manifests, string, error) {
	if st, err := os.Stat(filepath.Join(repo, sub)); err == nil && st.IsDir() {
		m, err := loadDir(os.DirFS(repo), sub, filepath.ToSlash(filepath.Join(repo, sub)))
		return m, filepath.Join(repo, sub), err
	}
	r, err := gitrepo.Open(ctx, repo, gitrepo.OpenOptions{})
	if err != nil || !r.Info().Bare {
		return nil, "", fmt.Errorf("manifests: no directory %s in %s", sub, repo)
	}
	m, err := loadTree(r, repo, sub)
	return m, fmt.Sprintf("%s (HEAD %.12s)", path.Join(repo, sub), r.Info().SHA), err
}

func loadTree(r *gitrepo.Repo, repo, sub string) (*Manifests, error) {
	g := r.Git()
	head, err := g.Head()
	if err != nil {
		return nil, fmt.Errorf("manifests: %w", err)
	}
	c, err := g.CommitObject(head.Hash())
	if err != nil {
		return nil, fmt.Errorf("manifests: %w", err)
	}
	t, err := c.Tree()
	if err == nil {
		t, err = t.Tree(sub)
	}
	if err != nil {
		return nil, fmt.Errorf("manifests: %s at HEAD %.12s: %w", sub, head.Hash(), err)
	}
	var files []*object.File
	err = t.Files().ForEach(func(f *object.File) error {
		if !strings.Contains(f.Name, "/") && (strings.HasSuffix(f.Name, ".yaml") || strings.HasSuffix(f.Name, ".yml")) {
			files = append(files, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("manifests: %w", err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	m := &Manifests{}
	for _, f := range files {
		rd, err := f.Reader()
		if err != nil {
			return nil, fmt.Errorf("manifests: %w", err)
		}
		data, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			return nil, fmt.Errorf("manifests: %w", err)
		}
		if err := m.Add(path.Join(repo, sub, f.Name), data); err != nil {
			return nil, err
		}
	}
	return m, nil
}
