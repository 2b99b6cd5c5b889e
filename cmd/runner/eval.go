package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

func newEvalCmd() *cobra.Command {
	var contextsFile string
	var typed bool
	cmd := &cobra.Command{
		Use:   "eval [--contexts FILE.json] [--typed] EXPR",
		Short: "Evaluate one ${{ }} expression (the text inside the braces) and print the value as JSON",
		Long: `Evaluate one GitHub Actions expression and print its value as JSON.

EXPR is the text inside ${{ }}. --contexts names a JSON object mapping
context names (github, env, matrix, ...) to values; only those names may be
used. success() and always() are true, failure() and cancelled() false, and
hashFiles() hashes files below the current directory.

With --typed the output is {"kind": K, "value": V}, K one of Null, Boolean,
Number, String, Array, Object. Errors print "lexing: ...", "parsing: ..." or
"evaluation: ..." and exit with code 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env := &expr.Env{Contexts: map[string]any{}, Funcs: expr.StatusFuncs(false, false)}
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			env.Funcs["hashfiles"] = expr.HashFiles(wd)
			names := []string{}
			if contextsFile != "" {
				data, err := os.ReadFile(contextsFile)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("reading contexts: %w", err)}
				}
				v, err := expr.ParseJSON(data)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("%s: invalid JSON: %w", contextsFile, err)}
				}
				obj, ok := v.(*expr.Object)
				if !ok {
					return &exitError{code: 2, err: fmt.Errorf("%s: want a JSON object of context name to value, got %s", contextsFile, expr.KindOf(v))}
				}
				for i, k := range obj.Keys() {
					names = append(names, k)
					env.Contexts[k] = obj.Values()[i]
				}
			}
			n, err := expr.ParseWith(args[0], expr.ParseOptions{Contexts: names})
			var v any
			if err == nil {
				v, err = expr.Eval(n, env)
			}
			if err != nil {
				var e *expr.Error
				if errors.As(err, &e) {
					fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
					return &exitError{code: 1, err: errors.New("")}
				}
				return &exitError{code: 1, err: err}
			}
			out := v
			if typed {
				o := expr.NewObject()
				o.Set("kind", expr.KindOf(v))
				o.Set("value", v)
				out = o
			}
			fmt.Fprintln(cmd.OutOrStdout(), expr.ToJSON(out))
			return nil
		},
	}
	cmd.Flags().StringVar(&contextsFile, "contexts", "", "JSON file: object of context name to value (default: no contexts)")
	cmd.Flags().BoolVar(&typed, "typed", false, `print {"kind": K, "value": V} instead of the bare value`)
	return cmd
}
