package buildkit_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/buildkit"
	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client"
)

// daemon starts buildkitd under a temp root, mirroring docker.io to a fresh
// registry holding the alpine stand-in.
func daemon(t *testing.T) (*buildkit.Daemon, string) {
	t.Helper()
	ct.Require(t, ct.Root, ct.Runc, ct.Buildkitd, ct.Busybox)
	reg := ct.Registry(t)
	ctx := context.Background()
	d, err := buildkit.StartDaemon(ctx, buildkit.DaemonOptions{
		Root: filepath.Join(t.TempDir(), "buildkit"), Binary: ct.BuildkitdPath(),
		Mirrors: buildkit.DefaultMirrors(reg),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return d, reg
}

func connect(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, err := client.New(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestBuildFromAlpineThroughMirrorToArchive(t *testing.T) {
	d, _ := daemon(t)
	c := connect(t, d.Addr())
	dir := ct.ServerContext(t, "<h1>birds</h1>\n")
	archive := filepath.Join(t.TempDir(), "out", "backend.tar")
	var log testenv.Buffer
	res, err := buildkit.Build(context.Background(), c, buildkit.BuildOptions{
		Context: dir, Image: "birds-app-back-end", Archive: archive,
		BuildArgs: map[string]string{"GREETING": "hello birds"}, Progress: &log,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if os.Getenv("SHOW_PROGRESS") != "" {
		t.Log(log.String())
	}
	if want := []string{"birds-app-back-end:testing"}; strings.Join(res.Names, ",") != want[0] {
		t.Errorf("names = %v", res.Names)
	}
	for _, want := range []string{"FROM", "docker.io/library/alpine:latest", "RUN echo", "DONE"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, log.String())
		}
	}
	art, err := registry.OpenArchive(archive, "")
	if err != nil {
		t.Fatal(err)
	}
	defer art.Close()
	dg, err := art.Digest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := art.Image(nil)
	if err != nil {
		t.Fatal(err)
	}
	imgDigest, _ := img.Digest()
	if res.Digest != dg.String() && res.Digest != imgDigest.String() {
		t.Errorf("digest %s, archive has %s / %s", res.Digest, dg, imgDigest)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cf.Config.Cmd, " ") != "./app" || cf.Config.WorkingDir != "/app" {
		t.Errorf("config: cmd %v workdir %q", cf.Config.Cmd, cf.Config.WorkingDir)
	}
	if _, ok := cf.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v", cf.Config.ExposedPorts)
	}
	if got := fileInImage(t, img, "app/static/greeting.txt"); got != "hello birds\n" {
		t.Errorf("greeting.txt = %q", got)
	}

	// Same build again: everything comes from the cache kept in the root.
	var again testenv.Buffer
	res2, err := buildkit.Build(context.Background(), c, buildkit.BuildOptions{
		Context: dir, Image: "birds-app-back-end", Archive: archive,
		BuildArgs: map[string]string{"GREETING": "hello birds"}, Progress: &again,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(again.String(), "CACHED") || res2.Digest != res.Digest {
		t.Errorf("rebuild: digest %s vs %s, log:\n%s", res2.Digest, res.Digest, again.String())
	}
}

func fileInImage(t *testing.T, img v1.Image, name string) string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	found := ""
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if strings.TrimPrefix(h.Name, "./") == name {
				b, _ := io.ReadAll(tr)
				found = string(b)
			}
		}
		rc.Close()
	}
	return found
}

func TestBuildPushesToRegistry(t *testing.T) {
	d, reg := daemon(t)
	c := connect(t, d.Addr())
	dir := ct.ServerContext(t, "pushed\n")
	res, err := buildkit.Build(context.Background(), c, buildkit.BuildOptions{
		Context: dir, Image: "me/app", Tags: []string{"v1", "latest"}, Push: true, Registry: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	rc := registry.New(registry.Options{})
	for _, tag := range []string{"v1", "latest"} {
		got, err := rc.Digest(context.Background(), reg+"/me/app:"+tag)
		if err != nil {
			t.Fatal(err)
		}
		if got != res.Digest {
			t.Errorf("%s: registry has %s, build said %s", tag, got, res.Digest)
		}
	}
}

func TestBuildErrorsNameTheProblem(t *testing.T) {
	d, _ := daemon(t)
	c := connect(t, d.Addr())
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM alpine:latest\nRUN echo boom >&2; exit 7\n"), 0o644)
	var log testenv.Buffer
	_, err := buildkit.Build(context.Background(), c, buildkit.BuildOptions{Context: dir, Progress: &log})
	if err == nil || !strings.Contains(err.Error(), "exit code: 7") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(log.String(), "boom") {
		t.Errorf("the RUN step's output is not in the log:\n%s", log.String())
	}
	_, err = buildkit.Build(context.Background(), c, buildkit.BuildOptions{Context: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no Containerfile or Dockerfile") {
		t.Fatalf("err = %v", err)
	}
}

func TestMissingPartsAreNamed(t *testing.T) {
	ct.Require(t, ct.Root)
	ctx := context.Background()
	_, err := buildkit.StartDaemon(ctx, buildkit.DaemonOptions{Root: t.TempDir(), Binary: "/nonexistent/buildkitd"})
	if !errors.Is(err, buildkit.ErrMissing) || !strings.Contains(err.Error(), "make bin/buildkitd") {
		t.Errorf("missing binary: %v", err)
	}
	_, err = buildkit.StartDaemon(ctx, buildkit.DaemonOptions{Root: t.TempDir(), Binary: "/bin/true", Runc: "/nonexistent/runc"})
	if !errors.Is(err, buildkit.ErrMissing) || !strings.Contains(err.Error(), "runc") {
		t.Errorf("missing runc: %v", err)
	}
}

func TestManagerSharesOneDaemonAndStopsIt(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Buildkitd)
	var m buildkit.Manager
	ctx := context.Background()
	opts := buildkit.DaemonOptions{Root: filepath.Join(t.TempDir(), "bk"), Binary: ct.BuildkitdPath()}
	a, err := m.Connect(ctx, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Connect(ctx, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	if a.Addr != b.Addr || !a.Managed {
		t.Fatalf("two daemons: %s %s", a.Addr, b.Addr)
	}
	// BUILDKIT_HOST-style connection to the same daemon.
	h, err := m.Connect(ctx, a.Addr, buildkit.DaemonOptions{})
	if err != nil || h.Managed {
		t.Fatalf("connect by host: %v", err)
	}
	h.Close(ctx)
	a.Close(ctx)
	if _, err := b.ListWorkers(ctx); err != nil {
		t.Fatalf("daemon stopped while still used: %v", err)
	}
	b.Close(ctx)
	if n := buildkitdProcesses(opts.Root); n != 0 {
		t.Fatalf("%d buildkitd processes left", n)
	}
	if _, err := m.Connect(ctx, "tcp://127.0.0.1:1", buildkit.DaemonOptions{}); err == nil ||
		!strings.Contains(err.Error(), "BUILDKIT_HOST tcp://127.0.0.1:1") {
		t.Fatalf("bad host: %v", err)
	}
}

func buildkitdProcesses(root string) int {
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("buildkitd")) && bytes.Contains(b, []byte(root)) {
			n++
		}
	}
	return n
}

// A second daemon on the same state dir (another runner process) waits
// for the first one to stop, and says so.
func TestSecondDaemonWaitsForTheStateDir(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Buildkitd)
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "bk")
	first, err := buildkit.StartDaemon(ctx, buildkit.DaemonOptions{Root: root, Binary: ct.BuildkitdPath()})
	if err != nil {
		t.Fatal(err)
	}
	var log testenv.Buffer
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = buildkit.StartDaemon(wctx, buildkit.DaemonOptions{Root: root, Binary: ct.BuildkitdPath(), Log: &log})
	if err == nil || !strings.Contains(err.Error(), "used by another runner") || !strings.Contains(log.String(), "waiting for another runner") {
		t.Fatalf("err = %v, log %q", err, log.String())
	}
	// The second start must wait for the first daemon: stop the first only
	// once the second says it waits, and the second must then start.
	var waitLog testenv.Buffer
	started := make(chan error, 1)
	var second *buildkit.Daemon
	go func() {
		var err error
		second, err = buildkit.StartDaemon(ctx, buildkit.DaemonOptions{Root: root, Binary: ct.BuildkitdPath(), Log: &waitLog})
		started <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(waitLog.String(), "waiting for another runner"); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-started:
			t.Fatalf("the second daemon started (%v) while the first held the state dir; log %q", err, waitLog.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second start never said it waits; log %q", waitLog.String())
		}
	}
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if err := second.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := buildkitdProcesses(root); n != 0 {
		t.Fatalf("%d buildkitd left", n)
	}
}

// When runner's buildkitd dies during a build, the error says so and
// shows the end of its log.
func TestDaemonDeathIsExplained(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Buildkitd, ct.Busybox)
	reg := ct.Registry(t)
	var m buildkit.Manager
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "bk")
	conn, err := m.Connect(ctx, "", buildkit.DaemonOptions{Root: root, Binary: ct.BuildkitdPath(), Mirrors: buildkit.DefaultMirrors(reg)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	dir := t.TempDir()
	// The RUN command names this test process, so that the same test in
	// another test binary on the machine is not mistaken for this one.
	run := fmt.Sprintf("sleep 41 && echo slept-%d", os.Getpid())
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM alpine:latest\nRUN "+run+"\n"), 0o644)
	go func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if pids := pidsOf(run); len(pids) > 0 {
				for _, p := range pidsOf(root) {
					syscall.Kill(p, syscall.SIGKILL)
				}
				return
			}
		}
	}()
	_, err = buildkit.Build(ctx, conn.Client, buildkit.BuildOptions{Context: dir})
	err = conn.Explain(err)
	if err == nil || !strings.Contains(err.Error(), "buildkitd exited") || !strings.Contains(err.Error(), "buildkitd.log") {
		t.Fatalf("err = %v", err)
	}
	// Its RUN container and overlay mounts do not outlive it.
	if p := pidsOf(run); len(p) != 0 {
		t.Errorf("RUN process left: %v", p)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), root) {
		t.Errorf("mounts left under %s", root)
	}
	out, _ := exec.Command(ct.RuncPath(), "list").CombinedOutput()
	if strings.Contains(string(out), root) {
		t.Errorf("runc containers left:\n%s", out)
	}
}

func pidsOf(s string) []int {
	var out []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		var pid int
		fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
		if b, _ := os.ReadFile(p); pid != os.Getpid() && bytes.Contains(b, []byte(s)) {
			out = append(out, pid)
		}
	}
	return out
}

func TestBuildTargetFileAndNoCache(t *testing.T) {
	d, _ := daemon(t)
	c := connect(t, d.Addr())
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("stage one\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("stage two\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "build"), 0o755)
	df := filepath.Join(dir, "build", "Multi.Dockerfile")
	os.WriteFile(df, []byte("FROM scratch AS one\nCOPY a.txt /\nFROM scratch AS two\nCOPY b.txt /\n"), 0o644)
	archive := filepath.Join(t.TempDir(), "one.tar")
	build := func(noCache bool) string {
		var log testenv.Buffer
		_, err := buildkit.Build(context.Background(), c, buildkit.BuildOptions{
			Context: dir, File: df, Target: "one", Archive: archive, NoCache: noCache, Progress: &log})
		if err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		return log.String()
	}
	build(false)
	art, err := registry.OpenArchive(archive, "")
	if err != nil {
		t.Fatal(err)
	}
	img, err := art.Image(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fileInImage(t, img, "a.txt"); got != "stage one\n" {
		t.Errorf("a.txt = %q", got)
	}
	if got := fileInImage(t, img, "b.txt"); got != "" {
		t.Errorf("stage two leaked in: %q", got)
	}
	art.Close()
	if log := build(false); !strings.Contains(log, "CACHED") {
		t.Errorf("second build not cached:\n%s", log)
	}
	if log := build(true); strings.Contains(log, "CACHED") {
		t.Errorf("no-cache build used the cache:\n%s", log)
	}
}
