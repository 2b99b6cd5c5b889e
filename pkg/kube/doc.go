// Package kube runs job legs as Kubernetes pods: the executor behind
// runner serve's `executor: {kind: kubernetes}` and runner exec's
// --executor kubernetes.
//
// Each leg (one matrix combination of one job) is one Pod whose single
// container runs runner's own binary (`runner job --stdio`): the same
// engine as runner exec, for that leg only. The controller (runner exec or
// runner serve, where pkg/run keeps the needs graph, the queue, the cache
// and the run record) reaches the pod only through the API server: it
// attaches to the container's stdin and stdout (as `kubectl attach -i`
// does), writes the leg's spec and source, and reads the leg's events and
// result back. Nothing is stored in the cluster but the Pod itself — no
// Secret, no ConfigMap — and the pod needs no route back to the
// controller, so a laptop outside the cluster can run legs in it.
//
// Pods carry labels (Labels) that name the controller instance, the run,
// its attempt and the job, so Sweep finds and deletes what a controller
// killed with SIGKILL left behind, by label, never by name.
//
// Hand-written here: the pod spec for a leg, the mapping of pod and
// container states to a job's failure reason, and the sweep. client-go
// does the rest (the API, the attach stream, watches).
package kube
