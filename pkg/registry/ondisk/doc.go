// Package ondisk is a registry store that keeps blobs and manifests in a
// directory, so that a registry survives restarts. It serves the manifest,
// tag and catalog parts of the distribution API itself and hands blob
// uploads and downloads to go-containerregistry's registry handler.
package ondisk
