package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/birdflock/runner/pkg/validate"
	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	var (
		opts       validate.Options
		strict     bool
		output     string
		skipKinds  []string
		listKnown  bool
		maxFileMiB int64
	)
	cmd := &cobra.Command{
		Use:   "validate [flags] PATH...",
		Short: "Validate Kubernetes manifests against the bundled schemas (like kubeconform -strict), offline",
		Long: `Validate Kubernetes manifests against JSON schemas generated from the
Kubernetes OpenAPI spec and bundled in runner; nothing is downloaded.

PATH is a file, a directory (walked for *.yaml, *.yml, *.json), a glob, or
"-" for standard input. Exit status: 0 when every document is valid, 1 when
any is not, 2 on a usage error.

Bundled Kubernetes versions: ` + strings.Join(validate.KubernetesVersions(), ", ") + ".",
		RunE: func(cmd *cobra.Command, args []string) error {
			if listKnown {
				for _, v := range validate.KubernetesVersions() {
					fmt.Fprintln(cmd.OutOrStdout(), v)
				}
				return nil
			}
			if len(args) == 0 {
				return &exitError{code: 2, err: errors.New("validate: no PATH given")}
			}
			if output != "text" && output != "json" {
				return &exitError{code: 2, err: fmt.Errorf("validate: -o %q: want text or json", output)}
			}
			opts.AllowUnknownFields = !strict
			opts.MaxFileSize = maxFileMiB << 20
			for _, k := range skipKinds {
				opts.SkipKinds = append(opts.SkipKinds, strings.Split(k, ",")...)
			}
			v, err := validate.New(opts)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("validate: %w", err)}
			}
			var res validate.Result
			var paths []string
			for _, a := range args {
				if a == "-" {
					res.Add(v.ValidateReader("<stdin>", cmd.InOrStdin()))
				} else {
					paths = append(paths, a)
				}
			}
			if len(paths) > 0 {
				r, err := v.ValidatePaths(cmd.Context(), paths)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("validate: %w", err)}
				}
				res.Add(r)
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				err = res.WriteJSON(out)
			} else {
				err = res.WriteText(out)
			}
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("validate: %w", err)}
			}
			if !res.Valid() {
				return &exitError{code: 1, err: errors.New("")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&strict, "strict", true, "reject fields the schema does not declare (--strict=false to allow them)")
	f.StringVar(&opts.KubernetesVersion, "kubernetes-version", validate.DefaultKubernetesVersion, "Kubernetes version of the schemas (e.g. 1.36 or v1.36.3)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	f.StringSliceVar(&skipKinds, "skip-kinds", nil, "kinds not to validate: Kind or apiVersion/Kind, comma-separated")
	f.BoolVar(&opts.IgnoreMissingSchemas, "ignore-missing-schemas", false, "skip kinds without a bundled schema instead of failing")
	f.Int64Var(&maxFileMiB, "max-file-size", validate.DefaultMaxFileSize>>20, "largest file accepted, in MiB")
	f.BoolVar(&listKnown, "list-versions", false, "print the bundled Kubernetes versions and exit")
	return cmd
}
