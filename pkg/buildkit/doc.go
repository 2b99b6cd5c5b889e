// Package buildkit builds container images with BuildKit: it connects to
// BUILDKIT_HOST or starts and supervises runner's own buildkitd, and runs
// Dockerfile builds through the built-in dockerfile.v0 frontend. It does not
// run images (see pkg/container) or manage registries (see pkg/registry).
package buildkit
