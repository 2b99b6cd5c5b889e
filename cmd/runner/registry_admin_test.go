package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/testenv"
)

// writeOldStore writes a one-image repository o/a tagged v1 in the
// earlier store's layout: blobs, manifests with their type, and the
// repository's digests and tags.
func writeOldStore(t *testing.T, dir string) string {
	t.Helper()
	img, _ := random.Image(512, 1)
	write := func(rel string, b []byte) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		h, _ := l.Digest()
		rc, _ := l.Compressed()
		b, _ := io.ReadAll(rc)
		write("blobs/sha256/"+h.Hex, b)
	}
	cn, _ := img.ConfigName()
	cb, _ := img.RawConfigFile()
	write("blobs/sha256/"+cn.Hex, cb)
	h, _ := img.Digest()
	mt, _ := img.MediaType()
	mb, _ := img.RawManifest()
	write("manifests/sha256/"+h.Hex, mb)
	write("manifests/sha256/"+h.Hex+".type", []byte(mt))
	write("repositories/o/a/_digests/"+h.Hex, nil)
	write("repositories/o/a/_tags/v1", []byte(h.String()))
	return h.String()
}

func TestRegistryMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	h := writeOldStore(t, dir)
	run := func() string {
		cmd := newRegistryCmd()
		cmd.SetArgs([]string{"migrate", "--dir", dir})
		var out strings.Builder
		cmd.SetOut(&out)
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if out := run(); !strings.Contains(out, "imported 1 repositories, 1 manifests, 1 tags, 2 blobs") {
		t.Errorf("migrate: %q", out)
	}
	if out := run(); !strings.Contains(out, "nothing to import") {
		t.Errorf("second migrate: %q", out)
	}
	s, err := registry.Serve(context.Background(), "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if d, err := registry.New(registry.Options{}).Digest(context.Background(), s.Addr()+"/o/a:v1"); err != nil || d != h {
		t.Errorf("o/a:v1 -> %s, %v; want %s", d, err, h)
	}
}

func TestRegistryServeRefusesAnOpenAddressWithoutAuth(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:5000"} {
		dir := filepath.Join(t.TempDir(), "reg")
		cmd := newRegistryCmd()
		cmd.SetArgs([]string{"serve", "--addr", addr, "--dir", dir})
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), "--htpasswd") {
			t.Errorf("serve --addr %s: %v, want a refusal naming --htpasswd", addr, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("serve --addr %s: directory created", addr)
		}
	}
	cmd := newRegistryCmd()
	cmd.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--dir", t.TempDir(), "--tls-cert", "c.pem"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Errorf("--tls-cert alone: %v", err)
	}
}

func TestRegistryGCCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := registry.Serve(ctx, "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(512, 1)
	if _, err := registry.New(registry.Options{}).Push(ctx, registry.FromImage(img), s.Addr()+"/o/a", []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := newRegistryCmd()
		cmd.SetArgs(append([]string{"gc", "--dir", dir}, args...))
		var out strings.Builder
		cmd.SetOut(&out)
		cmd.SetErr(io.Discard)
		err := cmd.ExecuteContext(ctx)
		return out.String(), err
	}
	if _, err := run(); err == nil || !strings.Contains(err.Error(), "stop it") {
		t.Errorf("gc while served: %v", err)
	}
	s.Close()
	out, err := run("--delete-untagged")
	if err != nil || !strings.Contains(out, "deleted 0 blobs") || !strings.Contains(out, "3 blobs") {
		t.Errorf("gc: %q %v", out, err)
	}
}

func TestRegistryServeProxy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up, err := registry.Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	img, _ := random.Image(512, 1)
	want, _ := img.Digest()
	if _, err := registry.New(registry.Options{}).Push(ctx, registry.FromImage(img), up.Addr()+"/library/alpine", []string{"latest"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cache")
	addr, done := serveInBackground(t, ctx, dir, nil, nil, "--addr", "127.0.0.1:0", "--proxy", "http://"+up.Addr())
	d, err := registry.New(registry.Options{}).Digest(ctx, addr+"/library/alpine:latest")
	if err != nil || d != want.String() {
		t.Errorf("through --proxy: %s, %v; want %s", d, err, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRegistryServeSaysWhatItImported(t *testing.T) {
	dir := t.TempDir()
	h := writeOldStore(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errOut testenv.Buffer
	addr, done := serveInBackground(t, ctx, dir, nil, &errOut, "--addr", "127.0.0.1:0")
	if d, err := registry.New(registry.Options{}).Digest(ctx, addr+"/o/a:v1"); err != nil || d != h {
		t.Errorf("o/a:v1 -> %s, %v; want %s", d, err, h)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "imported 1 repositories, 1 manifests, 1 tags, 2 blobs") {
		t.Errorf("stderr: %q", errOut.String())
	}
}
