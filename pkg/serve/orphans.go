package serve

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// killOrphans ends the processes a dead server left running for run id:
// its steps carry RUNNER_TEMP under the run's directory (pkg/run sets it),
// so a crash does not leave a deploy half-running beside a run marked
// failed. It returns how many it signalled.
func killOrphans(runsDir string, id int64) int {
	needle := []byte("RUNNER_TEMP=" + filepath.Join(runsDir, strconv.FormatInt(id, 10)) + string(filepath.Separator))
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.HasPrefix(kv, needle) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				n++
				break
			}
		}
	}
	return n
}
