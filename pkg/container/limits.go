package container

import (
	"fmt"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// Limits caps what one container may use. A zero field takes the value of
// DefaultLimits; a negative one (-1) removes that limit.
type Limits struct {
	// Pids is the most processes and threads the container may have at once
	// (the pids cgroup's pids.max). A fork past it fails with EAGAIN.
	Pids int64
	// Memory is the most memory, in bytes, the container may use: RAM and
	// page cache (the memory cgroup's limit), swap included where the host
	// accounts for it. Past it the kernel's OOM killer stops a process of
	// the container.
	Memory int64
}

// DefaultLimits are the limits of a container whose Spec leaves them zero:
// 4096 processes and threads (enough for a parallel build, far below the
// host's pid_max) and 4 GiB of memory.
var DefaultLimits = Limits{Pids: 4096, Memory: 4 << 30}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	if l.Pids == 0 {
		l.Pids = DefaultLimits.Pids
	}
	if l.Memory == 0 {
		l.Memory = DefaultLimits.Memory
	}
	return l
}

// ParsePidsLimit reads a pids limit: a whole number of processes, -1 for
// none; "" is the default (0).
func ParsePidsLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -1 || n == 0 {
		return 0, fmt.Errorf("pids limit %q: want a number of processes (at least 1), or -1 for no limit", s)
	}
	return n, nil
}

// ParseMemoryLimit reads a memory limit: bytes or a size such as 512m,
// 4g or 4GiB (powers of 1024, as `docker run --memory`), -1 for none; ""
// is the default (0). Less than 6 MiB is refused: a container needs a few
// MiB to start at all.
func ParseMemoryLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return 0, nil
	case "-1":
		return -1, nil
	}
	n, err := units.RAMInBytes(s)
	if err != nil || n < 6<<20 {
		return 0, fmt.Errorf("memory limit %q: want a size of at least 6m (such as 512m or 4g), or -1 for no limit", s)
	}
	return n, nil
}
