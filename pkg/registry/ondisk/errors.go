package ondisk

import (
	"encoding/json"
	"net/http"
)

// regError is an error in the distribution spec's JSON shape.
type regError struct {
	Status  int
	Code    string
	Message string
}

func (e *regError) write(w http.ResponseWriter) {
	type item struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(struct {
		Errors []item `json:"errors"`
	}{[]item{{e.Code, e.Message}}})
}

var (
	errNameUnknown     = &regError{http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry"}
	errManifestUnknown = &regError{http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown"}
	errDigestInvalid   = &regError{http.StatusBadRequest, "DIGEST_INVALID", "invalid digest"}
	errUnsupported     = &regError{http.StatusMethodNotAllowed, "UNSUPPORTED", "the operation is unsupported"}
)

func errNameInvalid(repo string) *regError {
	return &regError{http.StatusBadRequest, "NAME_INVALID", "invalid repository name " + repo}
}

func errTagInvalid(tag string) *regError {
	return &regError{http.StatusBadRequest, "TAG_INVALID", "invalid tag " + tag}
}

func internal(err error) *regError {
	return &regError{http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", err.Error()}
}
