package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/yamllint"
)

// newLintCmd is `runner lint`, a yamllint 1.29 work-alike.
func newLintCmd() *cobra.Command {
	var configData, configFile, format string
	var strict, noWarnings, listFiles bool
	cmd := &cobra.Command{
		Use:   "lint [-d CONFIG | -c FILE] [-f FORMAT] [-s] PATH...",
		Short: "Lint YAML files exactly as yamllint 1.29 does",
		Long: `Lint YAML files with yamllint's rules, configuration and output.

Without -c or -d the configuration is .yamllint, .yamllint.yaml or
.yamllint.yml in the working directory, then the user-global file
($YAMLLINT_CONFIG_FILE, $XDG_CONFIG_HOME/yamllint/config,
~/.config/yamllint/config), else "extends: default".
Exit status: 0 clean, 1 errors, 2 warnings with -s; 255 bad configuration.`,
		Args:          cobra.MinimumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(yamllint.Formats, format) {
				return fmt.Errorf("invalid format %q (choose from %v)", format, yamllint.Formats)
			}
			if configData != "" && configFile != "" {
				return errors.New("-c and -d are mutually exclusive")
			}
			var conf *yamllint.Config
			var err error
			switch {
			case cmd.Flags().Changed("config-data"):
				conf, err = yamllint.ParseConfig(configData)
			case configFile != "":
				conf, err = yamllint.LoadConfigFile(configFile)
			default:
				conf, err = yamllint.FindConfig(".", os.Getenv)
			}
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return &exitError{code: 255, err: errors.New("")}
			}
			if listFiles {
				files, err := yamllint.FindFiles("", args, conf)
				if err != nil {
					return err
				}
				for _, f := range files {
					if !conf.IsFileIgnored(trimDot(f)) {
						fmt.Fprintln(cmd.OutOrStdout(), f)
					}
				}
				return nil
			}
			out := cmd.OutOrStdout()
			if len(args) == 1 && args[0] == "-" {
				return lintStdin(cmd, conf, format, strict, noWarnings)
			}
			tty := false
			if f, ok := out.(*os.File); ok {
				tty = isatty.IsTerminal(f.Fd())
			}
			resolved := yamllint.ResolveFormat(format, os.LookupEnv, tty)
			sum, err := yamllint.LintPaths(cmd.Context(), out, cmd.ErrOrStderr(), args, conf,
				yamllint.RunOptions{Format: resolved, NoWarnings: noWarnings})
			if err != nil {
				return &exitError{code: 255, err: err}
			}
			if code := yamllint.ExitCode(sum.MaxLevel, strict); code != 0 {
				return &exitError{code: code, err: errors.New("")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configData, "config-data", "d", "", "custom configuration (as YAML source)")
	f.StringVarP(&configFile, "config-file", "c", "", "path to a custom configuration")
	f.StringVarP(&format, "format", "f", yamllint.FormatAuto, "output format: parsable, standard, colored, github, auto")
	f.BoolVarP(&strict, "strict", "s", false, "return non-zero exit code on warnings as well as errors")
	f.BoolVar(&noWarnings, "no-warnings", false, "output only error level problems")
	f.BoolVar(&listFiles, "list-files", false, "list files to lint and exit")
	return cmd
}

// lintStdin is `yamllint -`: the input is named "stdin" in the output.
func lintStdin(cmd *cobra.Command, conf *yamllint.Config, format string, strict, noWarnings bool) error {
	data, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), yamllint.MaxFileSize+1))
	if err != nil {
		return &exitError{code: 255, err: fmt.Errorf("read stdin: %w", err)}
	}
	if len(data) > yamllint.MaxFileSize {
		return &exitError{code: 1, err: fmt.Errorf("stdin: larger than %d bytes", yamllint.MaxFileSize)}
	}
	text, err := yamllint.Decode(data)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("stdin:%w", err)}
	}
	resolved := yamllint.ResolveFormat(format, os.LookupEnv, false)
	level, err := yamllint.WriteProblems(cmd.OutOrStdout(), yamllint.Lint(text, conf, ""), "stdin", resolved, noWarnings)
	if err != nil {
		return err
	}
	if code := yamllint.ExitCode(level, strict); code != 0 {
		return &exitError{code: code, err: errors.New("")}
	}
	return nil
}

func trimDot(p string) string {
	if len(p) > 2 && p[:2] == "./" {
		return p[2:]
	}
	return p
}
