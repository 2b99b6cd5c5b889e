package gitrepo_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// benchRepo is a working clone shaped like bird-flock after a while: 300
// files in 30 commits.
func benchRepo(b *testing.B) string {
	b.Helper()
	base := b.TempDir()
	origin := filepath.Join(base, "origin.git")
	files := map[string]string{}
	for i := range 300 {
		files[fmt.Sprintf("src/d%d/f%d.txt", i%20, i)] = fmt.Sprintf("file %d\n%0200d\n", i, i)
	}
	gittest.Origin(b, origin, files)
	local := filepath.Join(base, "local")
	gittest.Clone(b, origin, local)
	for i := range 29 {
		gittest.Commit(b, local, map[string]string{fmt.Sprintf("src/d%d/f%d.txt", i%20, i): fmt.Sprintf("v%d\n", i)}, "change")
	}
	return local
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// says more than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkCloneLocal measures checkout's clone of a local working clone
// through the in-process transport.
func BenchmarkCloneLocal(b *testing.B) {
	local := benchRepo(b)
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for i := range b.N {
		dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
		if _, err := gitrepo.Clone(context.Background(), gitrepo.CloneOptions{Source: local, Dir: dir}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitPush measures a publish of three changed files to a local
// bare origin (clone not timed).
func BenchmarkCommitPush(b *testing.B) {
	local := benchRepo(b)
	gittest.Push(b, local)
	ws := filepath.Join(b.TempDir(), "ws")
	info, err := gitrepo.Resolve(local)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gitrepo.Clone(context.Background(), gitrepo.CloneOptions{Source: local, Dir: ws, Upstream: info.Upstream}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	defer reportCPU(b, cpuTime())
	for i := range b.N {
		for j := range 3 {
			gittest.WriteFile(b, filepath.Join(ws, "k8s", fmt.Sprintf("m%d.yaml", j)), fmt.Sprintf("version: %d\n", i))
		}
		res, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: ws})
		if err != nil || !res.Pushed {
			b.Fatal(err, res)
		}
	}
}
