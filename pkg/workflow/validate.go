package workflow

import (
	"fmt"
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

// Load parses and validates a workflow: every problem at once.
func Load(file string, data []byte, opts Options) (*Workflow, Errors) {
	w, errs := Parse(file, data)
	if w == nil {
		return nil, errs
	}
	errs = append(errs, Validate(w, opts)...)
	errs.sort()
	if len(errs) > 0 {
		return w, errs
	}
	return w, nil
}

// Validate runs the semantic checks on a parsed workflow, one rule per
// file (rule_*.go). It reports user mistakes only; it never fails itself.
func Validate(w *Workflow, opts Options) Errors {
	v := &validator{file: w.File, opts: opts}
	for _, rule := range []func(*validator, *Workflow){
		ruleNeeds,
		ruleExpressions,
		ruleSteps,
		ruleUses,
		ruleMatrix,
		ruleScalars,
		ruleContexts,
	} {
		rule(v, w)
	}
	v.errs.sort()
	return v.errs
}

type validator struct {
	file string
	opts Options
	errs Errors
}

func (v *validator) errf(pos Pos, kind, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Pos: pos, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// offsetPos maps a byte offset inside a value to a file position. It is
// exact for single-line plain scalars and quoted ones without escapes, and
// close for the others.
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
	// Block scalars start on the line after the indicator.
	return Pos{val.Line + nl + 1, off - strings.LastIndex(before, "\n")}
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
func ruleScalars(v *validator, w *Workflow) {
	for _, j := range w.Jobs {
		v.numberOrExpr(j.TimeoutMinutes, "timeout-minutes", false)
		v.boolOrExpr(j.ContinueOnError, "continue-on-error")
		if j.Strategy != nil {
			v.boolOrExpr(j.Strategy.FailFast, "fail-fast")
			v.numberOrExpr(j.Strategy.MaxParallel, "max-parallel", true)
		}
		for _, c := range []*Concurrency{j.Concurrency} {
			if c != nil {
				v.boolOrExpr(c.CancelInProgress, "cancel-in-progress")
			}
		}
		for _, s := range j.Steps {
			v.numberOrExpr(s.TimeoutMinutes, "timeout-minutes", false)
			v.boolOrExpr(s.ContinueOnError, "continue-on-error")
			if s.Shell.Set && !strings.Contains(s.Shell.Raw, "${{") {
				if _, err := ShellCommand(s.Shell.Raw); err != nil {
					v.errf(s.Shell.Pos, "shell", "%v", err)
				}
			}
		}
		if j.Defaults.Shell.Set {
			if _, err := ShellCommand(j.Defaults.Shell.Raw); err != nil {
				v.errf(j.Defaults.Shell.Pos, "shell", "%v", err)
			}
		}
	}
	if w.Concurrency != nil {
		v.boolOrExpr(w.Concurrency.CancelInProgress, "cancel-in-progress")
	}
	if w.Defaults.Shell.Set {
		if _, err := ShellCommand(w.Defaults.Shell.Raw); err != nil {
			v.errf(w.Defaults.Shell.Pos, "shell", "%v", err)
		}
	}
}

// ShellCommand returns the command line template for a `shell:` value, with
// {0} standing for the script file, as GitHub defines it for Linux.
func ShellCommand(shell string) (string, error) {
	switch shell {
	case "", "bash":
		return "bash --noprofile --norc -eo pipefail {0}", nil
	case "sh":
		return "sh -e {0}", nil
	case "python":
		return "python {0}", nil
	case "pwsh":
		return "pwsh -command . '{0}'", nil
	}
	if strings.Contains(shell, "{0}") {
		return shell, nil
	}
	return "", fmt.Errorf("unknown shell %q; use bash, sh, python, pwsh or a command with {0}", shell)
}

// template parses every expression in a value and checks the contexts it
// names.
func (v *validator) template(val Value, where string) {
	if !val.Set || !strings.Contains(val.Raw, "${{") {
		return
	}
	t, err := expr.ParseTemplate(val.Raw)
	if err != nil {
		v.exprError(val, err, where)
		return
	}
	for _, n := range t.Exprs() {
		v.refs(val, n, where)
	}
}

// condition checks an `if:` value.
func (v *validator) condition(val Value, where string) {
	if !val.Set {
		return
	}
	n, err := expr.Condition(val.Raw)
	if err != nil {
		v.exprError(val, err, where)
		return
	}
	v.refs(val, n, where)
}

func (v *validator) exprError(val Value, err error, where string) {
	pos := val.Pos
	if ee, ok := err.(*expr.Error); ok {
		pos = offsetPos(val, ee.Offset)
	}
	v.errf(pos, "expression", "%s: %v", where, err)
}

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
	ctxs, _ := expr.Refs(n)
	for _, c := range ctxs {
		if !knownContext(c) {
			v.errf(val.Pos, "expression", "%s: unknown context %q; available: %s", where, c, strings.Join(Contexts, ", "))
		}
	}
}
