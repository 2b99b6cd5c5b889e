package workflow

import (
	"sort"
	"strings"

	"github.com/birdflock/runner/pkg/workflow/expr"
)

// availability is what an expression at one workflow key may use, from the
// "Context availability" table of GitHub's contexts reference. GitHub
// refuses the workflow when an expression names any other context
// ("Unrecognized named-value") or calls a special function elsewhere.
type availability struct {
	contexts []string
	funcs    []string // special functions: status functions and hashFiles
}

var (
	stepContexts = []string{"github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"}
	jobContexts  = []string{"github", "needs", "strategy", "matrix", "vars", "inputs"}
	statusFuncs  = []string{"always", "cancelled", "failure", "success"}
	// actionContexts are what a composite action's steps and outputs see.
	actionContexts = []string{"github", "inputs", "strategy", "matrix", "steps", "job", "runner", "env"}
)

// availabilityTable covers the keys runner evaluates; keys missing from it
// (the workflow's name and defaults, undocumented by GitHub) take any
// context and no special function.
var availabilityTable = map[string]availability{
	"run-name":                                         {contexts: []string{"github", "inputs", "vars"}},
	"concurrency":                                      {contexts: []string{"github", "inputs", "vars"}},
	"env":                                              {contexts: []string{"github", "secrets", "inputs", "vars"}},
	"jobs.<job_id>.concurrency":                        {contexts: jobContexts},
	"jobs.<job_id>.container":                          {contexts: jobContexts},
	"jobs.<job_id>.container.credentials":              {contexts: []string{"github", "needs", "strategy", "matrix", "env", "vars", "secrets", "inputs"}},
	"jobs.<job_id>.container.env.<env_id>":             {contexts: []string{"github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "inputs"}},
	"jobs.<job_id>.continue-on-error":                  {contexts: jobContexts},
	"jobs.<job_id>.defaults.run":                       {contexts: []string{"github", "needs", "strategy", "matrix", "env", "vars", "inputs"}},
	"jobs.<job_id>.env":                                {contexts: []string{"github", "needs", "strategy", "matrix", "vars", "secrets", "inputs"}},
	"jobs.<job_id>.if":                                 {contexts: []string{"github", "needs", "vars", "inputs"}, funcs: statusFuncs},
	"jobs.<job_id>.name":                               {contexts: jobContexts},
	"jobs.<job_id>.outputs.<output_id>":                {contexts: stepContexts},
	"jobs.<job_id>.runs-on":                            {contexts: jobContexts},
	"jobs.<job_id>.secrets.<secrets_id>":               {contexts: []string{"github", "needs", "strategy", "matrix", "secrets", "inputs", "vars"}},
	"jobs.<job_id>.with.<with_id>":                     {contexts: jobContexts},
	"jobs.<job_id>.strategy":                           {contexts: []string{"github", "needs", "vars", "inputs"}},
	"jobs.<job_id>.timeout-minutes":                    {contexts: jobContexts},
	"jobs.<job_id>.steps.continue-on-error":            {contexts: stepContexts, funcs: []string{"hashfiles"}},
	"jobs.<job_id>.steps.env":                          {contexts: stepContexts, funcs: []string{"hashfiles"}},
	"jobs.<job_id>.services":                           {contexts: jobContexts},
	"jobs.<job_id>.services.<service_id>.credentials":  {contexts: []string{"github", "needs", "strategy", "matrix", "env", "vars", "secrets", "inputs"}},
	"jobs.<job_id>.services.<service_id>.env.<env_id>": {contexts: []string{"github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "inputs"}},
	"jobs.<job_id>.steps.if": {
		contexts: []string{"github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps", "inputs"},
		funcs:    append([]string{"hashfiles"}, statusFuncs...),
	},
	"jobs.<job_id>.steps.name":              {contexts: stepContexts, funcs: []string{"hashfiles"}},
	"jobs.<job_id>.steps.shell":             {contexts: []string{}}, // none, as actionlint has it
	"jobs.<job_id>.steps.run":               {contexts: stepContexts, funcs: []string{"hashfiles"}},
	"jobs.<job_id>.steps.timeout-minutes":   {contexts: stepContexts, funcs: []string{"hashfiles"}},
	"jobs.<job_id>.steps.with":              {contexts: stepContexts, funcs: []string{"hashfiles"}},
	"jobs.<job_id>.steps.working-directory": {contexts: stepContexts, funcs: []string{"hashfiles"}},
	// A composite action (GitHub's action schema, action_yaml.json): its
	// steps see the job's contexts but secrets, vars and needs.
	"runs.steps.name":              {contexts: actionContexts, funcs: []string{"hashfiles"}},
	"runs.steps.if":                {contexts: actionContexts, funcs: append([]string{"hashfiles"}, statusFuncs...)},
	"runs.steps.run":               {contexts: actionContexts, funcs: []string{"hashfiles"}},
	"runs.steps.shell":             {contexts: []string{}},
	"runs.steps.working-directory": {contexts: actionContexts, funcs: []string{"hashfiles"}},
	"runs.steps.continue-on-error": {contexts: actionContexts, funcs: []string{"hashfiles"}},
	"runs.steps.with":              {contexts: actionContexts, funcs: []string{"hashfiles"}},
	"runs.steps.env":               {contexts: actionContexts, funcs: []string{"hashfiles"}},
	"outputs.<output_id>.value":    {contexts: actionContexts},
	"inputs.<input_id>.default":    {contexts: []string{"github", "strategy", "matrix", "job", "runner"}, funcs: []string{"hashfiles"}},
}

// specialFuncs are the functions only some keys may call, with where.
var specialFuncs = map[string]string{
	"always":    "if: conditions",
	"cancelled": "if: conditions",
	"failure":   "if: conditions",
	"success":   "if: conditions",
	"hashfiles": "steps (run, name, if, with, env, working-directory, timeout-minutes, continue-on-error)",
}

// ruleContexts reports every context and special function used where
// GitHub does not make it available, e.g. matrix in a job's if:, env in
// the workflow's env, secrets in a step's if:.
func ruleContexts() *rule {
	return &rule{expr: func(v *validator, e *exprNode) {
		avail, restricted := availabilityTable[e.key]
		for _, n := range e.nodes {
			for _, r := range expr.RefsAt(n) {
				switch {
				case r.Func:
					where, special := specialFuncs[r.Name]
					if special && !contains(avail.funcs, r.Name) {
						v.errf(offsetPos(e.val, r.Offset), "availability", "%s: %s() is only available in %s", e.where, funcName(r.Name), where)
					}
				case restricted && knownContext(r.Name) && !contains(avail.contexts, r.Name):
					names := append([]string(nil), avail.contexts...)
					sort.Strings(names)
					list := "available: " + strings.Join(names, ", ")
					if len(names) == 0 {
						list = "no context is available there"
					}
					v.errf(offsetPos(e.val, r.Offset), "availability",
						"%s: Unrecognized named-value: '%s': the %s context is not available in %s; %s",
						e.where, r.Name, r.Name, e.key, list)
				}
			}
		}
	}}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func funcName(lower string) string {
	if lower == "hashfiles" {
		return "hashFiles"
	}
	return lower
}
