package workflow

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// Options configure validation. The zero value knows no built-in actions.
type Options struct {
	// Builtins resolves `uses:` (a *steps.Set). Nil: every `uses:` step
	// is an error.
	Builtins Actions
	// NoMatrixLegs checks each matrix's shape and size without computing
	// its legs: for listing workflows, which must stay cheap. False: the
	// legs of every static matrix are computed, so that an exclude that
	// leaves nothing is reported.
	NoMatrixLegs bool
	// RunnerLabels are the labels of the self-hosted runners the
	// workflows are meant for (path.Match patterns, case-insensitive):
	// runs-on takes them without a warning.
	RunnerLabels []string
}

// Actions is what validation needs of the built-in actions. It is an
// interface so that parsing does not depend on the actions' code.
type Actions interface {
	// Action resolves a `uses:` value to the action's name and inputs.
	Action(uses string) (name string, inputs []ActionInput, ok bool)
	// Names lists the actions, for error messages.
	Names() []string
}

// ActionInput is one declared `with:` key of an action.
type ActionInput struct {
	Name     string
	Default  string
	Required bool
}

// Load parses and validates a workflow: every error at once. Warnings
// (risks in a valid workflow) are left out: Check and Warnings give them.
func Load(file string, data []byte, opts Options) (*Workflow, Errors) {
	w, errs := Check(file, data, opts)
	errs = errs.Only(SeverityError)
	if len(errs) > 0 {
		return w, errs
	}
	return w, nil
}

// Check parses and validates a workflow and returns every problem of
// either severity, sorted by position. The workflow is nil when it could
// not be parsed at all.
func Check(file string, data []byte, opts Options) (*Workflow, Errors) {
	w, errs := Parse(file, data)
	if w == nil {
		return nil, errs
	}
	errs = append(errs, Diagnose(w, opts)...)
	errs.sort()
	return w, errs
}

// Validate runs the semantic checks on a parsed workflow and returns the
// errors. It reports user mistakes only; it never fails itself.
func Validate(w *Workflow, opts Options) Errors {
	return Diagnose(w, opts).Only(SeverityError)
}

// Warnings lists what a valid workflow does that is risky, such as script
// injection (ruleInjection). They are not errors: the workflow runs as
// it would on GitHub.
func Warnings(w *Workflow) Errors {
	return Diagnose(w, Options{}).Only(SeverityWarning)
}

// Diagnose runs every rule (rule_*.go) over a parsed workflow in one pass
// and returns their problems of both severities, sorted by position.
func Diagnose(w *Workflow, opts Options) Errors {
	v := &validator{file: w.File, opts: opts}
	v.pass(w)
	v.errs.sort()
	return v.errs
}

type validator struct {
	file string
	opts Options
	errs Errors
	// action is the composite action DiagnoseAction checks; nil for a
	// workflow.
	action *Action
	// matrices are the jobs' matrices, decoded once (matrixOf).
	matrices map[*Job]*staticMatrix
	// byRule collects each rule's problems during a pass; cur is the
	// rule being called.
	byRule []Errors
	cur    int
}

func (v *validator) add(e *Error) {
	if v.byRule != nil {
		v.byRule[v.cur] = append(v.byRule[v.cur], e)
		return
	}
	v.errs = append(v.errs, e)
}

func (v *validator) errf(pos Pos, kind, format string, args ...any) {
	v.add(&Error{File: v.file, Pos: pos, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) warnf(pos Pos, kind, format string, args ...any) {
	v.add(&Error{File: v.file, Pos: pos, Kind: kind, Message: fmt.Sprintf(format, args...), Severity: SeverityWarning})
}

// offsetPos maps a byte offset inside a value to a file position. It is
// exact for single-line plain scalars, quoted ones without escapes and
// literal block scalars (run: |), and close for the others.
func offsetPos(val Value, off int) Pos {
	if off < 0 || off > len(val.Raw) {
		return val.Pos
	}
	before := val.Raw[:off]
	nl := strings.Count(before, "\n")
	if nl == 0 && !strings.Contains(val.Raw, "\n") {
		if val.Quoted {
			off++
		}
		return Pos{val.Line, val.Col + off}
	}
	// Block scalars start on the line after the indicator, their lines
	// indented by Indent-1 columns that the value does not hold.
	indent := max(val.Indent-1, 0)
	return Pos{val.Line + nl + 1, indent + off - strings.LastIndex(before, "\n")}
}

// boolOrExpr checks a value that must be true/false or an expression.
func (v *validator) boolOrExpr(val Value, what string) {
	if !val.Set || strings.Contains(val.Raw, "${{") {
		return
	}
	if _, err := strconv.ParseBool(val.Raw); err != nil || (val.Raw != "true" && val.Raw != "false") {
		v.errf(val.Pos, "type", "%s must be true, false or an expression, not %q", what, val.Raw)
	}
}

// numberOrExpr checks a value that must be a positive number or an expression.
func (v *validator) numberOrExpr(val Value, what string, integer bool) {
	if !val.Set || strings.Contains(val.Raw, "${{") {
		return
	}
	f, err := strconv.ParseFloat(val.Raw, 64)
	if err != nil || f <= 0 || (integer && f != float64(int(f))) {
		kind := "a positive number"
		if integer {
			kind = "a positive integer"
		}
		v.errf(val.Pos, "type", "%s must be %s or an expression, not %q", what, kind, val.Raw)
	}
}

// ruleScalars checks values with a fixed type.
func ruleScalars() *rule {
	shell := func(v *validator, val Value) {
		if val.Set && !strings.Contains(val.Raw, "${{") {
			if _, err := ShellCommand(val.Raw); errors.Is(err, errWindowsShell) {
				v.errf(val.Pos, "unsupported", "%v", err)
			} else if err != nil {
				v.errf(val.Pos, "shell", "%v", err)
			}
		}
	}
	return &rule{
		workflow: func(v *validator, w *Workflow) {
			if w.Concurrency != nil {
				v.boolOrExpr(w.Concurrency.CancelInProgress, "cancel-in-progress")
			}
			shell(v, w.Defaults.Shell)
			// GitHub's schema gives the workflow's defaults no context:
			// an expression there is refused ("A template expression is
			// not allowed in this context"). A job's defaults take them.
			for _, d := range []struct {
				val  Value
				name string
			}{{w.Defaults.Shell, "shell"}, {w.Defaults.WorkingDirectory, "working-directory"}} {
				if d.val.Set && strings.Contains(d.val.Raw, "${{") {
					v.errf(d.val.Pos, "expression", "defaults.run.%s: GitHub allows no expression in the workflow's defaults; set it in the defaults of each job, where the job's contexts are available", d.name)
				}
			}
		},
		job: func(v *validator, j *Job) {
			v.numberOrExpr(j.TimeoutMinutes, "timeout-minutes", false)
			v.boolOrExpr(j.ContinueOnError, "continue-on-error")
			if j.Strategy != nil {
				v.boolOrExpr(j.Strategy.FailFast, "fail-fast")
				v.numberOrExpr(j.Strategy.MaxParallel, "max-parallel", true)
			}
			if j.Concurrency != nil {
				v.boolOrExpr(j.Concurrency.CancelInProgress, "cancel-in-progress")
			}
			shell(v, j.Defaults.Shell)
		},
		step: func(v *validator, _ *Job, s *Step) {
			v.numberOrExpr(s.TimeoutMinutes, "timeout-minutes", false)
			v.boolOrExpr(s.ContinueOnError, "continue-on-error")
			shell(v, s.Shell)
		},
	}
}

// errWindowsShell marks a shell GitHub accepts on its Windows runners only
// (so valid on GitHub, but not one runner can run).
var errWindowsShell = errors.New("")

// ShellCommand returns the command line template for a `shell:` value, with
// {0} standing for the script file, as GitHub defines it for Linux.
func ShellCommand(shell string) (string, error) {
	switch strings.ToLower(shell) { // GitHub's shell names are case-insensitive
	case "", "bash":
		return "bash --noprofile --norc -eo pipefail {0}", nil
	case "sh":
		return "sh -e {0}", nil
	case "python":
		return "python {0}", nil
	case "pwsh":
		return "pwsh -command . '{0}'", nil
	case "powershell", "cmd":
		return "", fmt.Errorf("shell %q is one of GitHub's Windows shells, and runner runs steps on Linux: use pwsh, bash, sh, python or a command with {0}%w", shell, errWindowsShell)
	}
	if strings.Contains(shell, "{0}") {
		return shell, nil
	}
	return "", fmt.Errorf("unknown shell %q; use bash, sh, python, pwsh or a command with {0}", shell)
}

func (v *validator) exprError(val Value, err error, where string) {
	pos := val.Pos
	hint := ""
	if ee, ok := err.(*expr.Error); ok {
		pos = offsetPos(val, ee.Offset)
		if m := unknownFunc.FindStringSubmatch(ee.Msg); m != nil {
			hint = didYouMean(m[1], funcNames)
		}
	}
	msg := err.Error()
	if hint != "" {
		msg = strings.TrimSpace(msg)
	}
	v.errf(pos, "expression", "%s: %s%s", where, msg, hint)
}

var unknownFunc = regexp.MustCompile(`^Unrecognized function: '([^']*)'`)

// funcNames are the functions an expression may call, for suggestions.
var funcNames = []string{"contains", "startsWith", "endsWith", "format", "join", "toJSON", "fromJSON", "case", "hashFiles", "success", "always", "failure", "cancelled"}

// Contexts are the names an expression may use.
var Contexts = []string{"github", "env", "vars", "secrets", "inputs", "needs", "steps", "job", "runner", "matrix", "strategy"}

func knownContext(name string) bool {
	for _, k := range Contexts {
		if k == name {
			return true
		}
	}
	return false
}

// refs reports contexts that do not exist. Where a context or function
// may be used is rule_contexts.go's concern.
func (v *validator) refs(val Value, n expr.Node, where string) {
	seen := map[string]bool{}
	for _, r := range expr.RefsAt(n) {
		if r.Func || knownContext(r.Name) || seen[r.Name] {
			continue
		}
		seen[r.Name] = true
		hint := didYouMean(r.Name, Contexts)
		if hint == "" {
			hint = "; available: " + strings.Join(Contexts, ", ")
		}
		v.errf(offsetPos(val, r.Offset), "expression", "%s: unknown context %q%s", where, r.Name, hint)
	}
}
