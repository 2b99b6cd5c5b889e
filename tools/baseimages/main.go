// Command baseimages builds the offline stand-ins for alpine:latest and
// nginx:stable-alpine from Debian binaries and pushes them to a registry
// (default: runner's local registry for -dir on its stable address,
// 127.0.0.1:5000 unless that was taken the first time; on a loopback address
// where nothing answers, `runner registry serve` is started in the
// background and keeps running). Run by `make base-images` and `make demo`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/registry/baseimage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "baseimages:", err)
		os.Exit(1)
	}
}

func run() error {
	host := flag.String("registry", "", "registry host:port to push to (default: the stable address of the registry in -dir)")
	dir := flag.String("dir", ".runner/registry", "directory of the registry started when none answers at -registry")
	runner := flag.String("runner", "bin/runner", "runner binary used to start that registry")
	insecure := flag.Bool("insecure", false, "allow plain HTTP to a non-loopback registry")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if *host == "" {
		addr, _, err := registry.Probe(ctx, *dir)
		if err != nil {
			return err
		}
		*host = addr
	}
	if !registry.Ping(ctx, *host, 2*time.Second) {
		if h, _, _ := net.SplitHostPort(*host); h != "127.0.0.1" && h != "localhost" {
			return fmt.Errorf("no registry answers at %s", *host)
		}
		if err := startRegistry(ctx, *runner, *host, *dir); err != nil {
			return err
		}
	}
	c := registry.New(registry.Options{Insecure: *insecure, Log: os.Stdout})
	start := time.Now()
	pushed, err := baseimage.Seed(ctx, c, *host, baseimage.Options{})
	if err != nil {
		return err
	}
	for _, p := range pushed {
		fmt.Printf("%s@%s\n", p.Refs[0], p.Digest)
	}
	fmt.Printf("base images ready in %.1fs\n", time.Since(start).Seconds())
	return nil
}

// startRegistry starts `runner registry serve` detached, so it keeps
// serving after this tool exits, and waits until it answers.
func startRegistry(ctx context.Context, runner, addr, dir string) error {
	if _, err := os.Stat(runner); err != nil {
		return fmt.Errorf("no registry at %s and no runner binary to start one (%w): run `make build`", addr, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(runner, "registry", "serve", "--addr", addr, "--dir", dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start registry: %w", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if registry.Ping(ctx, addr, time.Second) {
			fmt.Printf("started runner registry on %s (dir %s, pid %d; stop it with `kill %d`)\n", addr, dir, pid, pid)
			return nil
		}
	}
	return errors.New("started registry did not answer within 10s; see " + filepath.Join(dir, "serve.log"))
}
