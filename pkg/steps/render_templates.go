package steps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/birdflock/runner/pkg/render"
)

// RenderTemplates is `uses: render-templates`: jinjanate for every template
// of a glob into an output folder, atomically.
type RenderTemplates struct{}

// Spec implements Builtin.
func (RenderTemplates) Spec() Spec {
	return Spec{
		Name:        "render-templates",
		Description: "Render Jinja templates (jinjanator-compatible) into an output folder; nothing changes on error.",
		Inputs: []Input{
			{Name: "templates", Default: "templates/*.j2", Description: "glob or newline-separated list of globs"},
			{Name: "output", Default: "k8s", Description: "output folder; file name = template name without .j2"},
			{Name: "clean", Default: "true", Description: "remove the old *.yaml in output first"},
			{Name: "vars", Description: "multi-line KEY=VALUE, override data and env"},
			{Name: "data", Description: "a JSON, YAML or .env file, overrides env"},
		},
		Outputs: []string{"files"},
	}
}

// Run implements Builtin.
func (RenderTemplates) Run(ctx context.Context, s *Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(s.Workspace, p)
	}
	clean, err := strconv.ParseBool(strings.TrimSpace(orDefault(s.Input("clean"), "true")))
	if err != nil {
		return fmt.Errorf("input clean: %w", err)
	}
	templates, err := expandGlobs(abs, orDefault(s.Input("templates"), "templates/*.j2"))
	if err != nil {
		return err
	}
	outDir := abs(orDefault(s.Input("output"), "k8s"))

	vars := make(map[string]any, len(s.Env))
	for k, v := range s.Env {
		vars[k] = v
	}
	if d := strings.TrimSpace(s.Input("data")); d != "" {
		data, err := render.LoadData(abs(d))
		if err != nil {
			return err
		}
		for k, v := range data {
			vars[k] = v
		}
	}
	extra, err := render.ParseVars(s.Input("vars"))
	if err != nil {
		return fmt.Errorf("input vars: %w", err)
	}
	for k, v := range extra {
		vars[k] = v
	}

	eng, err := render.New(render.Options{Root: s.Workspace})
	if err != nil {
		return err
	}
	jobs := make([]render.Job, len(templates))
	for i, t := range templates {
		jobs[i] = render.Job{Template: t, Output: filepath.Join(outDir, strings.TrimSuffix(filepath.Base(t), ".j2"))}
	}
	var opts render.FilesOptions
	if clean {
		opts.Clean = []string{outDir}
	}
	written, err := eng.RenderFiles(jobs, vars, opts)
	if err != nil {
		return err
	}
	rel := make([]string, len(written))
	for i, w := range written {
		rel[i] = w
		if r, err := filepath.Rel(s.Workspace, w); err == nil && !strings.HasPrefix(r, "..") {
			rel[i] = r
		}
		s.Logf("rendered %s", rel[i])
	}
	s.SetOutput("files", strings.Join(rel, "\n"))
	return nil
}

func orDefault(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}

// expandGlobs expands each line of list; a line matching nothing is an
// error, as a missing template is for jinjanate.
func expandGlobs(abs func(string) string, list string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(list, "\n") {
		pat := strings.TrimSpace(line)
		if pat == "" {
			continue
		}
		matches, err := filepath.Glob(abs(pat))
		if err != nil {
			return nil, fmt.Errorf("templates %q: %w", pat, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("templates %q: no file matches", pat)
		}
		sort.Strings(matches)
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				continue // a folder in a glob is not a template
			}
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("templates: no template given")
	}
	return out, nil
}
