package steps

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/birdflock/runner/pkg/validate"
)

// ValidateManifests is `uses: validate-manifests`: kubeval/kubeconform's job,
// offline, against the schemas bundled in pkg/validate.
type ValidateManifests struct{}

// Spec implements Builtin.
func (ValidateManifests) Spec() Spec {
	return Spec{
		Name:        "validate-manifests",
		Description: "Validate Kubernetes manifests against the bundled JSON schemas (offline)",
		Inputs: []Input{
			{Name: "paths", Default: "k8s", Description: "files, directories or globs, one per line or comma-separated"},
			{Name: "kubernetes-version", Default: validate.DefaultKubernetesVersion,
				Description: "schemas to use: " + strings.Join(validate.KubernetesVersions(), ", ") + " (or a minor like 1.36)"},
			{Name: "strict", Default: "true", Description: "reject fields the schema does not declare"},
			{Name: "skip-kinds", Description: "kinds not to validate: Kind or apiVersion/Kind, comma-separated"},
			{Name: "ignore-missing-schemas", Default: "false", Description: "skip kinds without a bundled schema instead of failing"},
		},
		Outputs: []string{"valid", "documents", "invalid"},
	}
}

// Run implements Builtin.
func (ValidateManifests) Run(ctx context.Context, s *Context) error {
	strict, err := manifestsBoolInput(s, "strict")
	if err != nil {
		return err
	}
	ignoreMissing, err := manifestsBoolInput(s, "ignore-missing-schemas")
	if err != nil {
		return err
	}
	v, err := validate.New(validate.Options{
		KubernetesVersion:    s.Input("kubernetes-version"),
		AllowUnknownFields:   !strict,
		SkipKinds:            manifestsListInput(s.Input("skip-kinds")),
		IgnoreMissingSchemas: ignoreMissing,
	})
	if err != nil {
		return fmt.Errorf("validate-manifests: %w", err)
	}
	paths := manifestsListInput(s.Input("paths"))
	if len(paths) == 0 {
		return fmt.Errorf("validate-manifests: input paths is empty")
	}
	for i, p := range paths {
		if !filepath.IsAbs(p) {
			paths[i] = filepath.Join(s.Workspace, p)
		}
	}
	res, err := v.ValidatePaths(ctx, paths)
	if err != nil {
		return fmt.Errorf("validate-manifests: %w", err)
	}
	for i := range res.Problems {
		res.Problems[i].File = manifestsRelPath(s.Workspace, res.Problems[i].File)
	}
	for _, p := range res.Problems {
		s.Logf("%s", p)
	}
	sum := res.Summary()
	s.Logf("validated %d documents in %d files against Kubernetes %s: %d valid, %d invalid, %d skipped",
		sum.Valid+sum.Invalid+sum.Skipped, sum.Files, v.KubernetesVersion(), sum.Valid, sum.Invalid, sum.Skipped)
	s.SetOutput("valid", strconv.FormatBool(res.Valid()))
	s.SetOutput("documents", strconv.Itoa(len(res.Resources)))
	s.SetOutput("invalid", strconv.Itoa(sum.Invalid))
	if !res.Valid() {
		return fmt.Errorf("validate-manifests: %d problems", len(res.Problems))
	}
	return nil
}

func manifestsBoolInput(s *Context, name string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(s.Input(name)))
	if err != nil {
		return false, fmt.Errorf("input %s: want true or false, got %q", name, s.Input(name))
	}
	return b, nil
}

// manifestsListInput splits a multi-line or comma-separated input, dropping blanks.
func manifestsListInput(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ',' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// manifestsRelPath shows a path relative to the workspace when it is inside it.
func manifestsRelPath(base, path string) string {
	if rel, err := filepath.Rel(base, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
