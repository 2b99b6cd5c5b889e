package container

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Each bundle records the runner process that made it ("PID STARTTIME" in
// bundle/owner). A bundle whose owner is gone was left by a runner that was
// killed; the next Runc sweeps it: runc delete --force, then the files.

const ownerFile = "owner"

// processIdentity is "PID STARTTIME" of pid, "" when it does not exist.
func processIdentity(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// Fields after the command (which may hold spaces) start after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return strconv.Itoa(pid) + " " + f[19] // field 22: starttime
}

func writeOwner(bundle string) error {
	return os.WriteFile(filepath.Join(bundle, ownerFile), []byte(processIdentity(os.Getpid())), 0o600)
}

// sweep removes bundles in dir whose owner process is gone.
func (r *Runc) sweep(ctx context.Context) {
	ents, err := os.ReadDir(r.opts.Dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "runner-") {
			continue
		}
		bundle := filepath.Join(r.opts.Dir, e.Name())
		b, err := os.ReadFile(filepath.Join(bundle, ownerFile))
		if err != nil {
			continue // being set up right now, or not ours
		}
		pid, _ := strconv.Atoi(strings.Fields(string(b) + " 0")[0])
		if pid > 0 && processIdentity(pid) == string(b) {
			continue // its runner is alive
		}
		args := []string{"delete", "--force", e.Name()}
		if r.opts.Root != "" {
			args = append([]string{"--root", r.opts.Root}, args...)
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = exec.CommandContext(dctx, r.opts.Runc, args...).Run()
		cancel()
		if !unmountRootfs(bundle) {
			continue // never remove files through a mounted root
		}
		_ = os.RemoveAll(bundle)
	}
}
