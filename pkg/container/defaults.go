package container

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Every container this package starts gets the confinement that `docker
// run` gives by default, set here in one place (confine) for every kind of
// container (test-image, preview, and later job and service containers):
//
//   - namespaces: pid, network (its own, loopback only), ipc, uts, mount;
//     no user namespace: the container's root is the host's uid 0;
//   - capabilities: Docker's default set (defaultCaps) as the bounding set,
//     effective only for a root process; no_new_privs;
//   - seccomp: Docker's default profile (github.com/moby/profiles/seccomp),
//     which refuses unshare, setns, mount, namespace-making clone, bpf,
//     keyctl, ptrace of other processes' memory (process_vm_*) and the like
//     with EPERM;
//   - Docker's masked (dangerous /proc and /sys files read as empty) and
//     read-only paths (/proc/sys and friends);
//   - the devices cgroup allows only runc's default devices;
//   - Limits: a pids and a memory cgroup limit (DefaultLimits).

// defaultCaps is Docker's default capability set, so that images behave as
// under docker or podman (nginx needs SETUID/SETGID to drop privileges).
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// maskedPaths are Docker's (moby's oci/defaults.go, containerd's
// pkg/oci): runc bind-mounts /dev/null over files and an empty read-only
// tmpfs over directories. Paths missing here are skipped by runc.
var maskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
}

// readonlyPaths are Docker's read-only paths.
var readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// confine applies the defaults above and the limits l to spec, whose
// Process (with its user) and Linux namespaces are already set.
func confine(spec *specs.Spec, l Limits) error {
	caps := defaultCaps
	if spec.Process.User.UID != 0 {
		caps = nil // like docker: a non-root user has no effective caps
	}
	spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: defaultCaps, Permitted: caps, Effective: caps,
	}
	spec.Process.NoNewPrivileges = true
	spec.Linux.MaskedPaths = append(append([]string{}, maskedPaths...), thermalThrottlePaths()...)
	spec.Linux.ReadonlyPaths = readonlyPaths
	// The profile allows the syscalls that the bounding set's capabilities
	// need (none of CAP_SYS_ADMIN's, so no namespaces): Capabilities first.
	sc, err := seccomp.GetDefaultProfile(spec)
	if err != nil {
		return fmt.Errorf("seccomp profile: %w", err)
	}
	spec.Linux.Seccomp = sc
	spec.Linux.Resources = &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	l = l.withDefaults()
	if l.Pids > 0 {
		spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: &l.Pids}
	}
	if l.Memory > 0 {
		m := &specs.LinuxMemory{Limit: &l.Memory}
		if swapLimitable() {
			m.Swap = &l.Memory // memory+swap: no swap on top of the limit
		}
		spec.Linux.Resources.Memory = m
	}
	return nil
}

// swapLimitable says whether runc can set a memory+swap limit: always on
// cgroup v2 (runc skips it where swap is off), on v1 only with swap
// accounting (memory.memsw.*), without which runc would fail.
func swapLimitable() bool {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return true
	}
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil
}

// thermalThrottlePaths are the per-CPU thermal_throttle dirs of this host,
// which Docker and containerd mask too.
func thermalThrottlePaths() []string {
	p, _ := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle")
	return p
}
