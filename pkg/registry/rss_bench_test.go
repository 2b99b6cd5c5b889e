package registry

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// buildRunner builds cmd/runner into a temporary directory.
func buildRunner(b *testing.B) string {
	b.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(b.TempDir(), "runner")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/runner")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// smaps reads a process's resident memory in MB: all of it, and its
// anonymous part (heap, stacks; the rest are pages of the binary).
func smaps(b *testing.B, pid int) (rss, anon float64) {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Rss:":
			rss = float64(kb) / 1024
		case "Anonymous:":
			anon = float64(kb) / 1024
		}
	}
	return rss, anon
}

// BenchmarkServeRSS measures a `runner registry serve` process: the
// binary's size, resident memory idle after one push, and after a
// 1 GiB upload sent in 32 MiB PATCH chunks and then abandoned.
func BenchmarkServeRSS(b *testing.B) {
	bin := buildRunner(b)
	fi, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(b.TempDir(), "reg")
	cmd := exec.Command(bin, "registry", "serve", "--addr", "127.0.0.1:0", "--dir", dir)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(filepath.Join(dir, "serving.addr"))
		addr, _, _ = strings.Cut(string(data), "\n")
	}
	if addr == "" {
		b.Fatal("registry serve did not start")
	}
	ctx := context.Background()
	img, _ := random.Image(1<<20, 3)
	if _, err := New(Options{}).Push(ctx, FromImage(img), addr+"/bench/app", []string{"latest", "sha"}); err != nil {
		b.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	rss, anon := smaps(b, cmd.Process.Pid)

	resp, err := http.Post("http://"+addr+"/v2/bench/big/blobs/uploads/", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = "http://" + addr + loc
	}
	chunk := bytes.Repeat([]byte{'x'}, 32<<20)
	for off := 0; off < 1<<30; off += len(chunk) {
		req, _ := http.NewRequest(http.MethodPatch, loc, bytes.NewReader(chunk))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+len(chunk)-1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("PATCH at %d: %s", off, resp.Status)
		}
		if l := resp.Header.Get("Location"); l != "" {
			loc = l
			if !strings.HasPrefix(loc, "http") {
				loc = "http://" + addr + loc
			}
		}
	}
	time.Sleep(2 * time.Second)
	bigRSS, bigAnon := smaps(b, cmd.Process.Pid)

	b.ReportMetric(float64(fi.Size())/(1<<20), "binary-MB")
	b.ReportMetric(rss, "idle-rss-MB")
	b.ReportMetric(anon, "idle-anon-MB")
	b.ReportMetric(bigRSS, "upload-rss-MB")
	b.ReportMetric(bigAnon, "upload-anon-MB")
}
