package workflow

import (
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// permissionScopes are the scopes of `permissions:` with the values each
// takes, from GitHub's "Assigning permissions to jobs".
var permissionScopes = map[string][]string{
	"actions":             {"read", "write", "none"},
	"attestations":        {"read", "write", "none"},
	"checks":              {"read", "write", "none"},
	"contents":            {"read", "write", "none"},
	"deployments":         {"read", "write", "none"},
	"discussions":         {"read", "write", "none"},
	"id-token":            {"write", "none"},
	"issues":              {"read", "write", "none"},
	"models":              {"read", "none"},
	"packages":            {"read", "write", "none"},
	"pages":               {"read", "write", "none"},
	"pull-requests":       {"read", "write", "none"},
	"repository-projects": {"read", "write", "none"},
	"security-events":     {"read", "write", "none"},
	"statuses":            {"read", "write", "none"},
}

// rulePermissions checks `permissions:` of the workflow and of each job:
// read-all, write-all, or a mapping of known scopes to their values.
func rulePermissions() *rule {
	return &rule{
		workflow: func(v *validator, w *Workflow) { v.permissions(w.Permissions, "permissions") },
		job:      func(v *validator, j *Job) { v.permissions(j.Permissions, "job "+j.ID+".permissions") },
	}
}

func (v *validator) permissions(n *yaml.Node, where string) {
	n = resolve(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value != "read-all" && n.Value != "write-all" {
			v.errf(posOf(n), "permissions", "%s: %q is not read-all, write-all or a mapping of scopes%s",
				where, n.Value, didYouMean(n.Value, []string{"read-all", "write-all"}))
		}
		return
	case yaml.MappingNode:
	default:
		v.errf(posOf(n), "permissions", "%s must be read-all, write-all or a mapping of scopes, not %s", where, kindName(n))
		return
	}
	scopes := make([]string, 0, len(permissionScopes))
	for s := range permissionScopes {
		scopes = append(scopes, s)
	}
	sort.Strings(scopes)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], resolve(n.Content[i+1])
		allowed, ok := permissionScopes[k.Value]
		if !ok {
			hint := didYouMean(k.Value, scopes)
			if hint == "" {
				hint = "; scopes: " + strings.Join(scopes, ", ")
			}
			v.errf(posOf(k), "permissions", "%s: unknown scope %q%s", where, k.Value, hint)
			continue
		}
		if val.Kind != yaml.ScalarNode || !contains(allowed, val.Value) {
			got := strconv.Quote(val.Value)
			if val.Kind != yaml.ScalarNode {
				got = kindName(val)
			}
			v.errf(posOf(val), "permissions", "%s.%s must be %s, not %s", where, k.Value, strings.Join(allowed, ", "), got)
		}
	}
}
