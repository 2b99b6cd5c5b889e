package kube

import rbacv1 "k8s.io/api/rbac/v1"

// Rules are the permissions the executor needs in its namespace, and no
// more: deploy/kubernetes' Role grants exactly these (a test checks it),
// and the cluster tests run the executor as a service account bound to
// them.
var Rules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get", "list", "watch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"pods/attach"}, Verbs: []string{"create", "get"}},
	{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
	// A Docker action's container is an ephemeral container of the
	// job's pod (stepcontainer.go).
	{APIGroups: []string{""}, Resources: []string{"pods/ephemeralcontainers"}, Verbs: []string{"patch"}},
}
