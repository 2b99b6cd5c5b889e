package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/birdflock/runner/pkg/yamllint"
)

// LintYAML is `uses: lint-yaml`: yamllint over workspace files, with
// yamllint's configuration, rules and output.
type LintYAML struct{}

// Spec implements Builtin.
func (LintYAML) Spec() Spec {
	return Spec{
		Name:        "lint-yaml",
		Aliases:     []string{"yamllint"},
		Description: "Lint YAML files exactly as yamllint 1.29 does",
		Inputs: []Input{
			{Name: "paths", Default: ".", Description: "files, directories or globs, space or newline separated"},
			{Name: "config", Description: "inline configuration (like yamllint -d) or a configuration file (like -c); default: .yamllint discovery"},
			{Name: "format", Default: "auto", Description: "parsable, standard, colored, github or auto (github annotations under GitHub Actions)"},
			{Name: "strict", Default: "false", Description: "fail on warnings too"},
		},
		Outputs: []string{"errors", "warnings"},
	}
}

// Run implements Builtin.
func (LintYAML) Run(ctx context.Context, s *Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	strict, err := strconv.ParseBool(defaultStr(s.Input("strict"), "false"))
	if err != nil {
		return fmt.Errorf("lint-yaml: input strict: %w", err)
	}
	format := defaultStr(s.Input("format"), yamllint.FormatAuto)
	if !validFormat(format) {
		return fmt.Errorf("lint-yaml: input format %q: want one of %v", format, yamllint.Formats)
	}
	getenv := func(k string) string { return s.Env[k] }
	lookup := func(k string) (string, bool) { v, ok := s.Env[k]; return v, ok }
	conf, err := lintConfig(s.Workspace, s.Input("config"), getenv)
	if err != nil {
		return fmt.Errorf("lint-yaml: %w", err)
	}
	paths, err := expandPaths(s.Workspace, defaultStr(s.Input("paths"), "."))
	if err != nil {
		return fmt.Errorf("lint-yaml: %w", err)
	}
	var out, errs bytes.Buffer
	sum, err := yamllint.LintPaths(ctx, &out, &errs, paths, conf, yamllint.RunOptions{
		Format: yamllint.ResolveFormat(format, lookup, false),
		Dir:    s.Workspace,
	})
	if out.Len() > 0 {
		_, _ = s.Log.Write(out.Bytes())
	}
	if errs.Len() > 0 {
		_, _ = s.Log.Write(errs.Bytes())
	}
	if err != nil {
		return fmt.Errorf("lint-yaml: %w", err)
	}
	s.SetOutput("errors", strconv.Itoa(sum.Errors))
	s.SetOutput("warnings", strconv.Itoa(sum.Warnings))
	if code := yamllint.ExitCode(sum.MaxLevel, strict); code != 0 {
		return fmt.Errorf("lint-yaml: %d error(s), %d warning(s) in %d file(s)", sum.Errors, sum.Warnings, sum.Files)
	}
	s.Logf("lint-yaml: %d file(s), %d warning(s)", sum.Files, sum.Warnings)
	return nil
}

func defaultStr(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return strings.TrimSpace(v)
}

func validFormat(f string) bool {
	for _, x := range yamllint.Formats {
		if f == x {
			return true
		}
	}
	return false
}

// lintConfig reads the config input: empty means yamllint's discovery in
// the workspace; an existing file is read like -c; anything else is inline
// YAML like -d.
func lintConfig(workspace, value string, getenv func(string) string) (*yamllint.Config, error) {
	if strings.TrimSpace(value) == "" {
		return yamllint.FindConfig(workspace, getenv)
	}
	if !strings.ContainsAny(value, "\n{:") {
		p := value
		if !filepath.IsAbs(p) {
			p = filepath.Join(workspace, p)
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return yamllint.LoadConfigFileIn(workspace, value)
		}
	}
	return yamllint.ParseConfigIn(workspace, value)
}

// expandPaths splits the paths input and expands globs in the workspace.
// A pattern that matches nothing is an error; plain paths are kept as
// given so that yamllint reports them.
func expandPaths(workspace, value string) ([]string, error) {
	var out []string
	for _, p := range strings.Fields(value) {
		if !strings.ContainsAny(p, "*?[") {
			out = append(out, p)
			continue
		}
		pattern := p
		if !filepath.IsAbs(p) {
			pattern = filepath.Join(workspace, p)
		}
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("paths: bad pattern %q: %w", p, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("paths: %q: %w", p, errNoMatch)
		}
		for _, m := range matches {
			if !filepath.IsAbs(p) {
				if rel, err := filepath.Rel(workspace, m); err == nil {
					m = rel
				}
			}
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("paths: %w", errNoMatch)
	}
	return out, nil
}

var errNoMatch = errors.New("no files match")
