package validate

// The bundles under schemas/ are committed; this regenerates them from the
// OpenAPI spec in the k8s.io/kubernetes module (fetched via the Go proxy).
//go:generate go run ../../tools/genschemas -k8s-version v1.34.4,v1.35.4,v1.36.3,v1.37.2 -out schemas
