package container

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	ct "github.com/birdflock/runner/pkg/containertest"
)

// BenchmarkRelaunchTo200 measures an OCI archive of the Go static server
// (alpine stand-in + binary, 9 MB) from Setup (unpack, namespace, spec)
// through Start to the first 200 on the published port. Destroy is not
// timed.
func BenchmarkRelaunchTo200(b *testing.B) {
	ct.Require(b, ct.Root, ct.Runc, ct.Busybox)
	r, err := NewRunc(RuncOptions{})
	if err != nil {
		b.Fatal(err)
	}
	archive := ct.Archive(b, ct.ServerImage(b, "bench\n"), filepath.Join(b.TempDir(), "server.tar"))
	ctx := context.Background()
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		c, err := r.Setup(ctx, Spec{Archive: archive})
		if err != nil {
			b.Fatal(err)
		}
		go io.Copy(io.Discard, c.Logs())
		if err := c.Start(ctx); err != nil {
			b.Fatal(err)
		}
		url := "http://" + c.Ports()[8080] + "/"
		for {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		if err := c.Destroy(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	// CPU of runner and its children (runc), Destroy included: unlike wall
	// time it does not depend on how busy the machine is.
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	d := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return d(self.Utime) + d(self.Stime) + d(kids.Utime) + d(kids.Stime)
}
