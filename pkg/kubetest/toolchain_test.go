package kubetest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/birdflock/runner/pkg/registry/baseimage"
	"github.com/birdflock/runner/pkg/testenv"
)

// TestToolchainImageBuildsOffline: the toolchain image's file system,
// entered with chroot in a network namespace of its own (no network at
// all), builds the bird-flock example as its workflow does: go mod
// download and go build of the back-end, npm ci and npm run build of the
// front-end, with the pod template's offline settings. A second call
// reuses the cached layers.
func TestToolchainImageBuildsOffline(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (chroot, unshare)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ex := filepath.Join(root, "examples", "bird-flock")
	self, err := os.Executable() // stands in for runner's binary
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	base, err := baseimage.Runner(ctx, baseimage.RunnerOptions{Binary: self})
	if err != nil {
		testenv.Missing(t, "the runner base image (Debian busybox-static, bash): %v", err)
	}
	o := ToolchainOptions{
		CacheDir:    filepath.Join(root, ".cache", "kube", "toolchain"),
		GoModules:   []string{filepath.Join(ex, "back-end")},
		NpmProjects: []string{filepath.Join(ex, "front-end")},
		Log:         t.Logf,
	}
	img, err := ToolchainImage(ctx, base, o)
	if m := (*MissingError)(nil); errors.As(err, &m) {
		testenv.Missing(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := ToolchainImage(ctx, base, o); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Logf("the second call took %s: were the layers rebuilt?", d)
	}

	fs := t.TempDir()
	tar := exec.Command("tar", "-C", fs, "-xf", "-")
	tar.Stdin = mutate.Extract(img)
	if out, err := tar.CombinedOutput(); err != nil {
		t.Fatalf("unpack: %v\n%s", err, out)
	}
	// The example as scripts/demo.sh copies it: without what a local
	// build left in it.
	work := filepath.Join(fs, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	cp := exec.Command("sh", "-c", `tar -C "$1" --exclude=node_modules --exclude=build --exclude=back-end/app -cf - . | tar -C "$2" -xf -`, "sh", ex, work)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", ex, err, out)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	env := append(cf.Config.Env, "GOPROXY=off", "GOFLAGS=-mod=mod", "npm_config_offline=true")
	script := `set -e
cd /work/back-end
go mod download
CGO_ENABLED=0 GOOS=linux go build -trimpath -o app .
cd ../front-end
npm ci --no-audit --no-fund
npm run build
test -s build/index.html
echo built offline with $(go version)`
	if err := os.WriteFile(filepath.Join(fs, "env"), []byte(strings.Join(env, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No network, and the mounts are in the command's own mount
	// namespace: gone with it.
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind /dev "$1/dev" && mount -t proc proc "$1/proc" && exec chroot "$1" /bin/sh -c 'exec env -i $(cat /env) /bin/sh -c "$0"' "$2"`,
		"sh", fs, script)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "built offline with go version go") {
		t.Fatalf("building bird-flock in the image without network: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(fs, "work", "back-end", "app")); err != nil {
		t.Errorf("no back-end binary: %v", err)
	}
}
