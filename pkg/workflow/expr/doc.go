// Package expr implements the GitHub Actions ${{ }} expression language:
// lexing, parsing, evaluation with GitHub's coercion rules, the built-in
// functions, templates (strings with embedded ${{ }}) and if: conditions.
// It does not know workflows or runs: callers supply contexts and the
// run-dependent functions (hashFiles, success, ...) through Env.
package expr
