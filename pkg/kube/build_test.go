package kube_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/buildkit"
	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
)

// forwardUnix forwards TCP connections to a new port on ip to the unix
// socket sock until the test ends, and returns ip:port.
func forwardUnix(t testing.TB, ip net.IP, sock string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("unix", sock)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestBuildImageInPod: a job in a pod builds an image with build-image on
// the BuildKit daemon the executor's buildkit-host names (an address pods
// reach), and the archive is the job's artifact back in the run record.
func TestBuildImageInPod(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Buildkitd)
	c := kubetest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d, err := buildkit.StartDaemon(ctx, buildkit.DaemonOptions{Root: t.TempDir(), Binary: ct.BuildkitdPath()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop(context.Background())
	addr := forwardUnix(t, c.GatewayIP, strings.TrimPrefix(d.Addr(), "unix://"))
	// The forward listens on the first node's bridge: the build job's pod
	// goes there.
	cfg := kube.Config{BuildkitHost: "tcp://" + addr, Default: kube.PodTemplate{NodeSelector: map[string]string{"kubernetes.io/hostname": c.Nodes[0].Name}}}
	tr := transport(t, c, cfg)
	res := runWorkflow(t, ctx, `on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: |
          mkdir ctx
          echo "built in $(hostname)" > ctx/hello.txt
          printf 'FROM scratch\nCOPY hello.txt /hello.txt\n' > ctx/Containerfile
      - id: img
        uses: build-image
        with:
          context: ctx
          file: ctx/Containerfile
          image: hello
          tags: t1
          archive: hello.tar
      - run: test -s hello.tar && echo "archive of ${{ steps.img.outputs.image }} is $(wc -c < hello.tar) bytes"
      - uses: actions/upload-artifact@v4
        with:
          name: image
          path: hello.tar
`, run.Options{Remote: tr.Legs(), Builtins: steps.Default(), Settings: tr.Config.PodSettings(steps.Settings{BuildkitHost: "unix:///controller/only/reaches/this"})})
	log := jobLog(t, res)
	if res.Conclusion != "success" {
		t.Fatalf("conclusion %s:\n%s", res.Conclusion, log)
	}
	if !strings.Contains(log, "buildkitd: BUILDKIT_HOST=tcp://"+addr) || !strings.Contains(log, "archive of hello") {
		t.Errorf("the build did not use the pods' BuildKit address %s:\n%s", addr, log)
	}
	fi, err := os.Stat(filepath.Join(res.Dir, "artifacts", "image", "hello.tar"))
	if err != nil || fi.Size() == 0 {
		t.Errorf("the image archive did not come back as the run's artifact: %v", err)
	}
}
