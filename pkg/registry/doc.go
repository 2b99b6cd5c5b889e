// Package registry moves OCI images between archives, layouts and
// registries (push, pull, tag, copy) with auth, retries and mirrors, and
// serves runner's own on-disk registry. It does not build or run images:
// BuildKit and the container runtime live elsewhere.
package registry
