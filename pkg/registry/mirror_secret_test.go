package registry

import (
	"strings"
	"testing"
)

// A mirror given with credentials, or as a URL that does not parse, is
// refused without echoing the credentials or a piece of them.
func TestMirrorErrorsHideCredentials(t *testing.T) {
	for _, v := range []string{
		"docker.io=https://user:s3cr3t-pass@m.example",
		"docker.io=https://user:s3cr3t/tail@m.example",
		"docker.io=http://s3cr3t-token@m.example:5000",
	} {
		var m Mirrors
		err := m.Set(v)
		if err == nil {
			t.Errorf("%s: accepted", v)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: the error shows the credentials: %v", v, err)
		}
		if !strings.Contains(err.Error(), "docker.io") {
			t.Errorf("%s: the error does not name the registry: %v", v, err)
		}
	}
}
