package workflow

import (
	"regexp"
	"strconv"
	"strings"
)

// ruleTemplateText warns about template forms that do not do what they
// seem to, or that runner reads otherwise than GitHub (runner plan and
// check show it):
//   - a matrix value that is one ${{ }} with whitespace around it (a
//     quoted or block scalar): GitHub's template reader, and runner, make
//     it a string (format('{0} ', expr)), so an array it gives is not
//     spliced into the list and a number or object becomes text;
//   - a step's with: key computed by an expression or ${{ insert }}:
//     GitHub evaluates them, runner passes the key as written;
//   - a job output's name holding ${{ }} is an error: GitHub's schema
//     gives the outputs mapping no context, so it refuses the expression;
//   - an env: or with: value written as a plain YAML number or boolean
//     whose text GitHub changes (python-version: 3.10 is the number 3.1,
//     True is true): GitHub reads the YAML 1.2 core schema and passes the
//     value's canonical text, runner the text as written.
func ruleTemplateText() *rule {
	scalars := func(v *validator, kvs []KV, where string) {
		for _, kv := range kvs {
			if kv.Insert || kv.Value.Quoted || kv.Value.Indent > 0 {
				continue
			}
			if gh, ok := githubScalarText(kv.Value.Raw); ok && gh != kv.Value.Raw {
				v.warnf(kv.Value.Pos, "template-text", "%s.%s: GitHub reads %s as a YAML number or boolean and passes %q; runner passes %q: quote the value to keep its text", where, kv.Key, kv.Value.Raw, gh, kv.Value.Raw)
			}
		}
	}
	return &rule{
		workflow: func(v *validator, w *Workflow) { scalars(v, w.Env, "env") },
		job: func(v *validator, j *Job) {
			scalars(v, j.Env, "job "+j.ID+".env")
			for _, kv := range j.Outputs {
				if strings.Contains(kv.Key, "${{") {
					v.errf(kv.KeyPos, "expression", "job %s.outputs: key %q: GitHub allows no expression in an output's name (A template expression is not allowed in this context)", j.ID, kv.Key)
				}
			}
			if j.Strategy == nil || j.Strategy.Matrix == nil {
				return
			}
			matrixValues(j.Strategy.Matrix, func(val Value) {
				if !strings.Contains(val.Raw, "${{") || WholeExpr(val.Raw) || !WholeExpr(strings.TrimSpace(val.Raw)) {
					return
				}
				pos := val.Pos
				if val.Quoted {
					pos.Col++
				}
				v.warnf(pos, "template-text", "job %s: strategy.matrix: whitespace around ${{ }} makes %q a string, on GitHub as in runner: an array it gives is not spliced into the list, a number or object becomes text; remove the whitespace", j.ID, val.Raw)
			})
		},
		step: func(v *validator, j *Job, s *Step) {
			sw := v.stepWhere(j, s)
			scalars(v, s.Env, sw+".env")
			scalars(v, s.With, sw+".with")
			for _, kv := range s.With {
				if strings.Contains(kv.Key, "${{") {
					v.warnf(kv.KeyPos, "template-text", "%s: with: key %q: GitHub computes keys written with ${{ }} (and inserts the entries of ${{ insert }}); runner passes the key as written", sw, kv.Key)
				}
			}
		},
	}
}

// YAML 1.2 core schema (the one GitHub's workflow reader uses) for plain
// scalars.
var (
	yamlInt   = regexp.MustCompile(`^[-+]?[0-9]+$`)
	yamlOctal = regexp.MustCompile(`^0o[0-7]+$`)
	yamlHex   = regexp.MustCompile(`^0x[0-9a-fA-F]+$`)
	yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
)

// githubScalarText is the text GitHub gives a string value written as the
// plain scalar s when the YAML 1.2 core schema reads s as a number or a
// boolean: .NET's G15 form of the number (3.10 is 3.1, 0x10 is 16), true
// or false. ok is false for anything else (strings, null, infinities).
func githubScalarText(s string) (string, bool) {
	switch s {
	case "true", "True", "TRUE":
		return "true", true
	case "false", "False", "FALSE":
		return "false", true
	}
	var f float64
	switch {
	case yamlOctal.MatchString(s), yamlHex.MatchString(s):
		n, err := strconv.ParseUint(s[2:], map[byte]int{'o': 8, 'x': 16}[s[1]], 64)
		if err != nil {
			return "", false
		}
		f = float64(n)
	case yamlInt.MatchString(s), yamlFloat.MatchString(s):
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return "", false
		}
	default:
		return "", false
	}
	return strings.ToUpper(strconv.FormatFloat(f, 'g', 15, 64)), true
}
