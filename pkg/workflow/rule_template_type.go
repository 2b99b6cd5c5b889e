package workflow

import "strings"

// stringKeys are the availability keys of values that are strings on
// GitHub: an object or array written into them with ${{ }} becomes the
// text "Object" or "Array" (or, alone in the value, is refused).
var stringKeys = map[string]bool{
	"run-name": true, "env": true,
	jobKey + "name": true, jobKey + "env": true, jobKey + "outputs.<output_id>": true, jobKey + "defaults.run": true,
	jobKey + "steps.name": true, jobKey + "steps.run": true, jobKey + "steps.working-directory": true,
	jobKey + "steps.env": true, jobKey + "steps.with": true,
	"runs.steps.name": true, "runs.steps.run": true, "runs.steps.working-directory": true,
	"runs.steps.env": true, "runs.steps.with": true, "outputs.<output_id>.value": true,
}

// objectPath tells whether an access gives an object or an array
// whatever the run: a context itself, github.event, steps.<id>[.outputs],
// needs.<id>[.outputs], job.services or job.container, and any .* filter
// (an index computed at run time is a "*" segment too, and says nothing).
func objectPath(segs []string, text string) (string, bool) {
	if strings.Contains(text, ".*") || strings.Contains(text, "[*]") {
		return "an array", true
	}
	switch len(segs) {
	case 1:
		return "an object", true
	case 2:
		switch segs[0] + "." + segs[1] {
		case "github.event", "job.services", "job.container":
			return "an object", true
		}
		if segs[0] == "steps" || segs[0] == "needs" {
			return "an object", true
		}
	case 3:
		if (segs[0] == "steps" || segs[0] == "needs") && segs[2] == "outputs" {
			return "an object", true
		}
	}
	return "", false
}

// ruleTemplateType reports an object or array written into a string,
// such as run: echo ${{ github.event }}: the script would get the text
// "Object". toJSON() writes the value out.
func ruleTemplateType() *rule {
	return &rule{expr: func(v *validator, e *exprNode) {
		if !stringKeys[e.key] || e.object {
			return
		}
		for i, n := range e.nodes {
			ps := e.pathsOf(i)
			if len(ps) != 1 || ps[0].Text != n.String() {
				continue // not a bare access
			}
			what, ok := objectPath(ps[0].Segments, ps[0].Text)
			if !ok {
				continue
			}
			text := "Object"
			if strings.HasSuffix(what, "array") {
				text = "Array"
			}
			v.errf(offsetPos(e.val, ps[0].Offset), "template-type",
				"%s: %s is %s: written into a string it becomes the text %q; use toJSON(%s) for its JSON, or a property of it",
				e.where, ps[0].Text, what, text, ps[0].Text)
		}
	}}
}
