package baseimage

import (
	"archive/tar"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/testenv"
)

func requireRedis(t *testing.T) {
	t.Helper()
	requireDebianParts(t)
	for _, p := range []string{"/usr/bin/redis-server", "/usr/bin/redis-cli", "/bin/bash"} {
		if _, err := os.Stat(p); err != nil {
			testenv.Missing(t, "%s missing (apt-get install redis-server bash)", p)
		}
	}
}

// The Redis stand-in serves in a chroot: redis-server under its own name
// (not redis-check-rdb, the file the host's link points to), redis-cli
// and bash from the image, with only the image's libraries.
func TestRedisRunsInChroot(t *testing.T) {
	requireRedis(t)
	requireRoot(t)
	img, err := Redis(context.Background(), RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fs := flatten(t, img)
	for _, p := range []string{"usr/bin/redis-server", "usr/bin/redis-cli", "bin/bash"} {
		mustHave(t, fs, p, tar.TypeReg)
	}
	if cf, _ := img.ConfigFile(); cf.Config.WorkingDir != "/data" || cf.Config.Cmd[0] != "redis-server" {
		t.Fatalf("config %+v", cf.Config)
	}
	root := t.TempDir()
	unpack(t, img, root)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	chroot := func(args ...string) *exec.Cmd {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Setpgid: true}
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=" + defaultPath}
		return cmd
	}
	var log bytes.Buffer
	srv := chroot("/usr/bin/redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--dir", "/data")
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
		srv.Wait()
	}()
	var out []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, err = chroot("/bin/bash", "-c", "redis-cli -p "+port+" set k v >/dev/null && redis-cli -p "+port+" get k").CombinedOutput()
		if err == nil && strings.TrimSpace(string(out)) == "v" {
			return
		}
	}
	t.Fatalf("redis-cli in the image: %v: %s\nredis-server said: %s", err, out, log.String())
}
