package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"

	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/workflow"
)

// newCheckCmd is `runner check`: every problem of the workflows, as
// actionlint reports them, without running anything.
func newCheckCmd() *cobra.Command {
	var o checkOptions
	cmd := &cobra.Command{
		Use:   "check [PATH...]",
		Short: "Report the problems of workflows without running them",
		Long: `Report every error and warning of the workflows: YAML syntax, keys, types,
expressions, references that cannot resolve, events, filters, permissions,
ids, matrices, runs-on labels and risks such as script injection.

PATH is a workflow file or a directory of them; without PATH, every
workflow under .github/workflows and workflows/ of the repository (found
from the current directory, or --repo).

Formats (-f): text (the default: the source line with a caret), json,
sarif (SARIF 2.1.0, for code-scanning UIs), or a Go template such as
'{{range .}}{{.Filepath}}:{{.Line}}:{{.Column}}: {{.Message}}{{"\n"}}{{end}}'
with the fields Message, Filepath, Line, Column, Kind, Severity, Snippet
and the functions json, replace and toPascalCase (as actionlint's).

Exit status: 0 clean (warnings alone too, unless --strict), 1 problems
found, 2 usage or I/O error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			code := runCheck(cmd.OutOrStdout(), cmd.ErrOrStderr(), args, o)
			if code != 0 {
				return &exitError{code: code, err: errors.New("")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "text", "output format: text, json, sarif or a Go template")
	f.StringVar(&o.repo, "repo", "", "repository whose workflows to check (default: current git repository)")
	f.BoolVar(&o.strict, "strict", false, "treat warnings as errors")
	f.StringArrayVar(&o.labels, "runner-label", nil, "label of your self-hosted runners that runs-on may use (a pattern such as 'gpu-*'; repeatable)")
	return cmd
}

type checkOptions struct {
	format, repo string
	strict       bool
	labels       []string
}

// checkProblem is one problem as the formats show it (the template
// fields are actionlint's).
type checkProblem struct {
	Message  string `json:"message"`
	Filepath string `json:"filepath"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Snippet  string `json:"snippet,omitempty"`
}

// runCheck checks the workflows and writes their problems; it returns
// the exit status.
func runCheck(out, errw io.Writer, args []string, o checkOptions) int {
	// Checking makes short-lived garbage per file and keeps little: a
	// less eager collector is a quarter faster on 1,000 workflows, for
	// a few more MB (GOGC, when set, wins).
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	var tmpl *template.Template
	switch o.format {
	case "text", "json", "sarif":
	default:
		if !strings.Contains(o.format, "{{") {
			fmt.Fprintf(errw, "runner check: unknown format %q: use text, json, sarif or a Go template\n", o.format)
			return 2
		}
		var err error
		tmpl, err = template.New("format").Funcs(templateFuncs).Parse(o.format)
		if err != nil {
			fmt.Fprintf(errw, "runner check: format: %v\n", err)
			return 2
		}
	}
	files, labels, root, err := checkFiles(args, o.repo)
	if err != nil {
		fmt.Fprintf(errw, "runner check: %v\n", err)
		return 2
	}
	labels = append(labels, o.labels...)
	builtins := steps.Default()
	acts := &localActions{root: root, builtins: builtins}
	// Files are checked in parallel (each on its own); the output keeps
	// their order.
	perFile := make([][]checkProblem, len(files))
	readErr := make([]error, len(files))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, f := range files {
		g.Go(func() error {
			data, err := os.ReadFile(f.read)
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err // the path read may be the resolved one: name the workflow
				}
				readErr[i] = err
				return nil
			}
			w, errs := workflow.Check(displayPath(f.path), data, workflow.Options{Builtins: builtins, RunnerLabels: labels})
			// The calls of reusable workflows (calls.go) are checked against
			// their callees; what does not fit is in this file.
			errs = append(errs, checkCalls(w, errs, root, workflow.Options{Builtins: builtins, RunnerLabels: labels})...)
			groups := []fileErrors{{file: displayPath(f.path), data: data, errs: errs}}
			if w != nil {
				groups = append(groups, acts.check(displayPath(f.path), w)...)
			}
			for _, g := range groups {
				src := g.data
				if src == nil {
					src = data
				}
				perFile[i] = append(perFile[i], problems(g.errs, lines(src), o.strict)...)
			}
			return nil
		})
	}
	_ = g.Wait()
	var problems []checkProblem
	errorsFound := false
	for i, f := range files {
		if readErr[i] != nil {
			fmt.Fprintf(errw, "runner check: %s: %v\n", displayPath(f.path), readErr[i])
			return 2
		}
		for _, p := range perFile[i] {
			errorsFound = errorsFound || p.Severity == "error"
			problems = append(problems, p)
		}
	}
	switch {
	case tmpl != nil:
		err = tmpl.Execute(out, problems)
	case o.format == "json":
		if problems == nil {
			problems = []checkProblem{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		err = enc.Encode(problems)
	case o.format == "sarif":
		err = writeSARIF(out, problems)
	default:
		for _, p := range problems {
			sev := ""
			if p.Severity == "warning" {
				sev = "warning: "
			}
			fmt.Fprintf(out, "%s:%d:%d: %s%s [%s]\n", p.Filepath, p.Line, p.Column, sev, p.Message, p.Kind)
			if p.Snippet != "" {
				fmt.Fprintf(out, "%s\n", indentSnippet(p.Line, p.Snippet))
			}
		}
	}
	if err != nil {
		fmt.Fprintf(errw, "runner check: %v\n", err)
		return 2
	}
	if errorsFound {
		return 1
	}
	return 0
}

// checkFile is a workflow to check: the path to show and the path to
// read (the same, or resolved inside the repository).
type checkFile struct{ path, read string }

// checkFiles lists the workflow files to check: the paths given (files,
// or the *.yml and *.yaml files of directories), else those under
// .github/workflows and workflows/ of the repository, resolved inside it
// (a symlink cannot make runner read a file outside the repository). It
// also returns the self-hosted runner labels of the repository's
// .github/actionlint.yaml or .yml (self-hosted-runner: labels), as
// actionlint reads them.
func checkFiles(args []string, repo string) ([]checkFile, []string, string, error) {
	var files []checkFile
	dirFiles := func(dir string) []string {
		var out []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(dir, pat))
			out = append(out, m...)
		}
		sort.Strings(out)
		return out
	}
	if len(args) > 0 {
		for _, a := range args {
			st, err := os.Stat(a)
			if err != nil {
				return nil, nil, "", err
			}
			if !st.IsDir() {
				files = append(files, checkFile{a, a})
				continue
			}
			fs := dirFiles(a)
			if len(fs) == 0 {
				return nil, nil, "", fmt.Errorf("%s: no *.yml or *.yaml files", a)
			}
			for _, f := range fs {
				files = append(files, checkFile{f, f})
			}
		}
		root, err := findRepo(repo)
		if err != nil {
			return files, nil, "", nil
		}
		return files, repoLabels(root), root, nil
	}
	root, err := findRepo(repo)
	if err != nil {
		return nil, nil, "", err
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, nil, "", fmt.Errorf("repository %s: not a local directory", root)
	}
	for _, d := range []string{filepath.Join(".github", "workflows"), "workflows"} {
		dir, err := securejoin.SecureJoin(root, d)
		if err != nil {
			return nil, nil, "", err
		}
		for _, f := range dirFiles(dir) {
			rel, err := filepath.Rel(dir, f)
			if err != nil {
				return nil, nil, "", err
			}
			read, err := securejoin.SecureJoin(root, filepath.Join(d, rel))
			if err != nil {
				return nil, nil, "", err
			}
			files = append(files, checkFile{filepath.Join(root, d, rel), read})
		}
	}
	if len(files) == 0 {
		return nil, nil, "", fmt.Errorf("no workflow files under %s or %s", filepath.Join(root, ".github", "workflows"), filepath.Join(root, "workflows"))
	}
	return files, repoLabels(root), root, nil
}

// problems turns errors into the problems shown, with the source line
// and a caret.
func problems(errs workflow.Errors, src []string, strict bool) []checkProblem {
	var out []checkProblem
	for _, e := range errs {
		sev := e.Severity
		if strict {
			sev = workflow.SeverityError
		}
		p := checkProblem{Message: e.Message, Filepath: e.File, Line: e.Line, Column: e.Col, Kind: e.Kind, Severity: sev.String()}
		if e.Line >= 1 && e.Line <= len(src) {
			p.Snippet = caret(strings.TrimSuffix(src[e.Line-1], "\r"), e.Col)
		}
		out = append(out, p)
	}
	return out
}

// repoLabels reads self-hosted-runner.labels from actionlint's
// configuration in the repository, if there is one.
func repoLabels(root string) []string {
	for _, name := range []string{"actionlint.yaml", "actionlint.yml"} {
		p, err := securejoin.SecureJoin(root, filepath.Join(".github", name))
		if err != nil {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil || len(data) > workflow.MaxFileSize {
			continue
		}
		var conf struct {
			SelfHostedRunner struct {
				Labels []string `yaml:"labels"`
			} `yaml:"self-hosted-runner"`
		}
		if yaml.Unmarshal(data, &conf) == nil {
			return conf.SelfHostedRunner.Labels
		}
	}
	return nil
}

// displayPath is the path relative to the current directory when that
// is shorter and inside it.
func displayPath(path string) string {
	if rel, err := filepath.Rel(".", path); err == nil && !filepath.IsAbs(rel) && !strings.HasPrefix(rel, "..") && len(rel) <= len(path) {
		return filepath.ToSlash(rel)
	}
	if abs, err := filepath.Abs(path); err == nil {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
				return filepath.ToSlash(rel)
			}
		}
	}
	return path
}

// caret returns the source line and, under it, a ^ at column col (in
// characters, 1-based); tabs before it are kept so that it lines up.
func caret(line string, col int) string {
	if !utf8.ValidString(line) {
		line = strings.ToValidUTF8(line, "?")
	}
	var pad strings.Builder
	i := 1
	for _, r := range line {
		if i >= col {
			break
		}
		if r == '\t' {
			pad.WriteRune('\t')
		} else if unicode.Is(unicode.Mn, r) {
			// combining marks take no column
		} else {
			pad.WriteByte(' ')
		}
		i++
	}
	return line + "\n" + pad.String() + "^"
}

// indentSnippet prefixes the snippet with the line number gutter.
func indentSnippet(line int, snippet string) string {
	num := fmt.Sprint(line)
	src, mark, _ := strings.Cut(snippet, "\n")
	return fmt.Sprintf("%s | %s\n%s | %s", num, src, strings.Repeat(" ", len(num)), mark)
}

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"replace": func(s string, oldnew ...string) (string, error) {
		if len(oldnew)%2 != 0 {
			return "", errors.New("replace takes pairs of old and new strings")
		}
		return strings.NewReplacer(oldnew...).Replace(s), nil
	},
	"toPascalCase": func(s string) string {
		var b strings.Builder
		up := true
		for _, r := range s {
			if r == '-' || r == '_' || r == ' ' || r == '.' {
				up = true
				continue
			}
			if up {
				r = unicode.ToUpper(r)
				up = false
			}
			b.WriteRune(r)
		}
		return b.String()
	},
}
