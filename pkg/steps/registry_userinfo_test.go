package steps

import (
	"context"
	"strings"
	"testing"
)

// A registry given with credentials in it (user:token@host) is refused
// without echoing them: parsing it as a repository name printed the part
// of the token after a '/', which masking the whole token cannot catch.
func TestRegistryWithUserinfoRefusedQuietly(t *testing.T) {
	ws := t.TempDir()
	writeArchive(t, ws, "a.tar")
	for _, reg := range []string{"https://user:s3cr3t/tail-of-token@127.0.0.1:1", "user:s3cr3t/tail-of-token@127.0.0.1:1/o", "http://s3cr3t-tail-of-token@127.0.0.1:1"} {
		s, log := pushCtx(t, ws, map[string]string{"archive": "a.tar", "registry": reg, "name": "a"})
		err := PushImage{}.Run(context.Background(), s)
		if err == nil {
			t.Errorf("%s: pushed", reg)
			continue
		}
		if all := err.Error() + log.String(); strings.Contains(all, "s3cr3t") || strings.Contains(all, "tail-of-token") {
			t.Errorf("%s: the credentials are shown: %v\n%s", reg, err, log)
		}
		if !strings.Contains(err.Error(), "username and password") {
			t.Errorf("%s: unclear error: %v", reg, err)
		}
	}
}
