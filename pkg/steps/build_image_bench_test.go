package steps

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/buildkit"
	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/moby/buildkit/client"
)

// BenchmarkBuildStepVsBuildctl builds the same Containerfile (the Go static
// server FROM alpine:latest, exported as an OCI archive) with the
// build-image step and with `buildctl build`, against the same buildkitd,
// cold (cache pruned) and cached. Metrics: seconds for each and their ratio.
func BenchmarkBuildStepVsBuildctl(b *testing.B) {
	ct.Require(b, ct.Root, ct.Runc, ct.Buildkitd, ct.Busybox)
	if _, err := os.Stat(ct.BuildctlPath()); err != nil {
		b.Fatalf("bin/buildctl: %v (make bin/buildkitd builds it)", err)
	}
	reg := ct.Registry(b)
	ctx := context.Background()
	d, err := buildkit.StartDaemon(ctx, buildkit.DaemonOptions{
		Root: filepath.Join(b.TempDir(), "buildkit"), Binary: ct.BuildkitdPath(),
		Mirrors: buildkit.DefaultMirrors(reg),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Stop(ctx)
	c, err := client.New(ctx, d.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ws := ct.ServerContext(b, "<h1>bench</h1>\n")
	out := b.TempDir()

	step := func() time.Duration {
		bi := &BuildImage{}
		s, log := stepCtx(bi, ws, b.TempDir(), map[string]string{"BUILDKIT_HOST": d.Addr()},
			map[string]string{"image": "bench", "archive": filepath.Join(out, "step.tar")})
		start := time.Now()
		if err := bi.Run(ctx, s); err != nil {
			b.Fatalf("%v\n%s", err, log)
		}
		return time.Since(start)
	}
	buildctl := func() time.Duration {
		cmd := exec.Command(ct.BuildctlPath(), "--addr", d.Addr(), "build", "--frontend", "dockerfile.v0",
			"--local", "context="+ws, "--local", "dockerfile="+ws, "--opt", "filename=Containerfile",
			"--output", "type=oci,name=bench:testing,dest="+filepath.Join(out, "buildctl.tar"))
		start := time.Now()
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("buildctl: %v\n%s", err, o)
		}
		return time.Since(start)
	}
	prune := func() {
		if err := c.Prune(ctx, nil, client.PruneAll); err != nil {
			b.Fatal(err)
		}
	}
	report := func(b *testing.B, s, k time.Duration) {
		n := float64(b.N)
		b.ReportMetric(s.Seconds()/n, "step-s/op")
		b.ReportMetric(k.Seconds()/n, "buildctl-s/op")
		b.ReportMetric(s.Seconds()/k.Seconds(), "ratio")
	}
	b.Run("cold", func(b *testing.B) {
		var s, k time.Duration
		for range b.N {
			prune()
			s += step()
			prune()
			k += buildctl()
		}
		report(b, s, k)
	})
	b.Run("cached", func(b *testing.B) {
		step()
		buildctl()
		var s, k time.Duration
		for range b.N {
			s += step()
			k += buildctl()
		}
		report(b, s, k)
	})
}
