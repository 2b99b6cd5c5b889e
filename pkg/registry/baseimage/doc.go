// Package baseimage builds offline stand-ins for the Docker Hub base images
// the bird-flock Containerfiles use (alpine:latest, nginx:stable-alpine)
// from this machine's Debian binaries, deterministically, and pushes them to
// a registry. With internet access the real images are used instead.
package baseimage
