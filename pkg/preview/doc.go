// Package preview runs a repository's Kubernetes manifests (k8s/: Deployments,
// Services, Ingresses) on this machine: it pulls the images, starts each
// Deployment's replicas as containers and serves them behind a reverse proxy
// that follows the Ingress paths, as a cluster with an ingress controller
// would. It is not a Kubernetes: no scheduling, restarts, DNS or ClusterIPs.
package preview
