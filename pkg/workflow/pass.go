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
	ruleMatrixLegs,
	ruleRunsOn,
	ruleTemplateType,
	ruleEnvNames,
	ruleCallDefs,
	ruleCompare,
	ruleCompareTypes,
	ruleMatrixKinds,
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
	p := v.newWalk()
	p.call(func(r *rule) {
		if r.workflow != nil {
			r.workflow(v, w)
		}
	})
	p.exprs(workflowExprs(w), nil, nil)
	for _, j := range w.Jobs {
		p.job(j, jobExprs(j), stepExprs)
	}
	p.call(func(r *rule) {
		if r.done != nil {
			r.done(v, w)
		}
	})
	p.finish()
}

// walk is one pass of the rules: each rule's state, and the YAML nodes
// already visited.
type walk struct {
	v    *validator
	rs   []*rule
	seen map[*yaml.Node]bool
}

func (v *validator) newWalk() *walk {
	p := &walk{v: v, rs: make([]*rule, len(rules)), seen: map[*yaml.Node]bool{}}
	v.byRule = make([]Errors, len(rules))
	for i, mk := range rules {
		p.rs[i] = mk()
	}
	return p
}

// finish gathers the problems, rule by rule.
func (p *walk) finish() {
	for _, es := range p.v.byRule {
		p.v.errs = append(p.v.errs, es...)
	}
	p.v.byRule = nil
}

func (p *walk) call(f func(r *rule)) {
	for i, r := range p.rs {
		p.v.cur = i
		f(r)
	}
}

// exprs parses each value's expressions once and hands them to the rules.
func (p *walk) exprs(vals []exprValue, j *Job, s *Step) {
	v := p.v
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
		p.call(func(r *rule) {
			switch {
			case err != nil && r.badExpr != nil:
				r.badExpr(v, e, err)
			case err == nil && r.expr != nil:
				r.expr(v, e)
			}
		})
	}
}

// once tells whether a node is visited for the first time: a job or step
// written once and used again through a YAML alias is checked once, its
// problems reported at the anchor.
func (p *walk) once(n *yaml.Node) bool {
	if n == nil {
		return true
	}
	if p.seen[n] {
		return false
	}
	p.seen[n] = true
	return true
}

// job walks one job: the job, its values, then each step and its values.
func (p *walk) job(j *Job, vals []exprValue, steps func(*Job, *Step) []exprValue) {
	if !p.once(j.node) {
		return
	}
	p.call(func(r *rule) {
		if r.job != nil {
			r.job(p.v, j)
		}
	})
	p.exprs(vals, j, nil)
	for _, s := range j.Steps {
		if !p.once(s.node) {
			continue
		}
		p.call(func(r *rule) {
			if r.step != nil {
				r.step(p.v, j, s)
			}
		})
		p.exprs(steps(j, s), j, s)
	}
}
