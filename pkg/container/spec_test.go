package container

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// As under docker: HOME comes from the user's passwd entry (unless set),
// and the groups that list the user are its supplementary groups.
func TestSpecHomeAndGroups(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\napp:x:1000:\nwww:x:33:app\nlog:x:44:other,app\nnone:x:55:other\n"), 0o644)
	for _, tc := range []struct {
		user, home string
		env        []string
		gids       []uint32
	}{
		{"", "/root", nil, nil},
		{"app", "/home/app", nil, []uint32{33, 44}},
		{"1000:44", "/home/app", nil, []uint32{33}},
		{"4242", "/", nil, nil},
		{"app", "/data", []string{"HOME=/data"}, []uint32{33, 44}},
	} {
		s, err := runtimeSpec(v1.Config{Cmd: []string{"true"}, User: tc.user, Env: tc.env}, Spec{}, root, "/proc/self/ns/net")
		if err != nil {
			t.Fatalf("user %q: %v", tc.user, err)
		}
		home := ""
		for _, e := range s.Process.Env {
			if len(e) > 5 && e[:5] == "HOME=" {
				if home != "" {
					t.Errorf("user %q: HOME set twice: %v", tc.user, s.Process.Env)
				}
				home = e[5:]
			}
		}
		if home != tc.home {
			t.Errorf("user %q: HOME=%q, want %q", tc.user, home, tc.home)
		}
		if !reflect.DeepEqual(s.Process.User.AdditionalGids, tc.gids) {
			t.Errorf("user %q: groups %v, want %v", tc.user, s.Process.User.AdditionalGids, tc.gids)
		}
	}
}
