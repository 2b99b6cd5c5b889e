// Package kubetest starts a real single-node Kubernetes cluster for tests:
// Debian's etcd and containerd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kubelet built from the release pinned in tools/kube
// (`make kube`), a CNI bridge on a private subnet, and runner's own
// registry on a loopback port that the node's containerd pulls from.
//
// Start brings a cluster up and Stop takes it down again, leaving no
// process, mount, network namespace, cgroup, bridge or changed sysctl
// behind; what a killed test run left is swept by the next Start. Shared
// gives the tests of one package a single cluster (with Main in their
// TestMain). It is for tests only: runner never imports it, and it is not
// a way to run Kubernetes in production.
package kubetest
