// Package container runs an OCI image as a short-lived local container, for
// smoke tests: a Runtime interface with a documented call order, and runc
// as its default implementation (safe layer unpacking, its own network
// namespace, ports published on 127.0.0.1 through a userland proxy). Every
// container gets Docker's default confinement (capabilities, seccomp
// profile, masked paths) and pids and memory limits (Limits,
// DefaultLimits), all set in defaults.go. It does not build or push images.
package container
