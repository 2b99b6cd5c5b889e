package workflow

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// rule is one check, shaped as actionlint's rules: it sets the callbacks
// for the nodes it looks at, and one pass over the workflow (pass) calls
// them in file order. A new rule is one rule_*.go file with a constructor
// listed in rules; its state lives in the constructor's closure, fresh for
// each workflow.
type rule struct {
	// workflow is called first, with the whole workflow.
	workflow func(v *validator, w *Workflow)
	// job is called for each job, before its expressions and steps.
	job func(v *validator, j *Job)
	// step is called for each step, before its expressions.
	step func(v *validator, j *Job, s *Step)
	// expr is called for each value that GitHub evaluates, with its
	// expressions parsed once; values that do not parse go to badExpr.
	expr    func(v *validator, e *exprNode)
	badExpr func(v *validator, e *exprNode, err error)
	// done is called last.
	done func(v *validator, w *Workflow)
}

// rules are the checks Validate runs, in this order. Problems of one
// rule come before another's at the same position.
var rules = []func() *rule{
	ruleNeeds,
	ruleExpressions,
	ruleSteps,
	ruleUses,
	ruleMatrix,
	ruleScalars,
	ruleContexts,
	ruleInjection,
	ruleRefSteps,
	ruleRefNeeds,
	ruleRefMatrix,
	ruleRefInputs,
	ruleRefProps,
	ruleIfCond,
	ruleEvents,
	ruleCron,
	ruleGlobs,
	rulePermissions,
	ruleCommands,
	ruleFuncs,
	ruleMatrixValues,
	ruleRunsOn,
	ruleTemplateType,
	ruleEnvNames,
	ruleCallDefs,
	ruleCompare,
	ruleFuncArgs,
	ruleDupKeys,
	ruleAnchors,
	ruleTemplateText,
}

// exprNode is one value that may hold expressions, where it sits (job
// and step are nil above them), and its parsed expressions: one per
// ${{ }}, or the whole condition of an if:.
type exprNode struct {
	exprValue
	job   *Job
	step  *Step
	nodes []expr.Node
	paths [][]expr.Path // expr.Paths of each node, computed on first use
}

// pathsOf returns expr.Paths of the i-th expression, computed once for
// all the rules.
func (e *exprNode) pathsOf(i int) []expr.Path {
	if e.paths == nil {
		e.paths = make([][]expr.Path, len(e.nodes))
		for k, n := range e.nodes {
			e.paths[k] = expr.Paths(n)
		}
	}
	return e.paths[i]
}

// pass runs every rule over the workflow in one walk: the workflow, its
// own values, then each job (the job, its values, then each step and its
// values). Each problem lands in its rule's list, so that the output does
// not depend on how the walk interleaves rules.
func (v *validator) pass(w *Workflow) {
	rs := make([]*rule, len(rules))
	v.byRule = make([]Errors, len(rules))
	for i, mk := range rules {
		rs[i] = mk()
	}
	call := func(f func(i int, r *rule)) {
		for i, r := range rs {
			v.cur = i
			f(i, r)
		}
	}
	call(func(_ int, r *rule) {
		if r.workflow != nil {
			r.workflow(v, w)
		}
	})
	exprs := func(vals []exprValue, j *Job, s *Step) {
		for _, ev := range vals {
			e := &exprNode{exprValue: ev, job: j, step: s}
			var err error
			switch {
			case e.cond:
				var n expr.Node
				if n, err = expr.Condition(e.val.Raw); err == nil {
					e.nodes = []expr.Node{n}
				}
			case strings.Contains(e.val.Raw, "${{"):
				var t *expr.Template
				if t, err = expr.ParseTemplate(e.val.Raw); err == nil {
					e.nodes = t.Exprs()
				}
			}
			call(func(_ int, r *rule) {
				switch {
				case err != nil && r.badExpr != nil:
					r.badExpr(v, e, err)
				case err == nil && r.expr != nil:
					r.expr(v, e)
				}
			})
		}
	}
	exprs(workflowExprs(w), nil, nil)
	// A job or step written once and used again through a YAML alias is
	// checked once: its problems are reported at the anchor.
	seen := map[*yaml.Node]bool{}
	once := func(n *yaml.Node) bool {
		if n == nil {
			return true
		}
		if seen[n] {
			return false
		}
		seen[n] = true
		return true
	}
	for _, j := range w.Jobs {
		if !once(j.node) {
			continue
		}
		call(func(_ int, r *rule) {
			if r.job != nil {
				r.job(v, j)
			}
		})
		exprs(jobExprs(j), j, nil)
		for _, s := range j.Steps {
			if !once(s.node) {
				continue
			}
			call(func(_ int, r *rule) {
				if r.step != nil {
					r.step(v, j, s)
				}
			})
			exprs(stepExprs(j, s), j, s)
		}
	}
	call(func(_ int, r *rule) {
		if r.done != nil {
			r.done(v, w)
		}
	})
	for _, es := range v.byRule {
		v.errs = append(v.errs, es...)
	}
	v.byRule = nil
}
