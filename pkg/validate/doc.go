// Package validate checks Kubernetes manifests against JSON schemas of the
// built-in kinds, offline: the schemas are generated from the Kubernetes
// OpenAPI spec (see tools/genschemas) and embedded in the binary.
//
// It reports every problem with file, document, JSON pointer and line:col;
// it does not talk to a cluster and knows nothing of custom resources.
package validate
