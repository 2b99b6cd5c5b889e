package kubetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// What a cluster changes on the host outside its own directory, and how
// it is put back. One cluster runs on a machine at a time (a lock under
// StateDir); the state file there names what the running cluster owns, so
// that the next Start can sweep what a killed test run left behind.

// StateDir holds the lock and the state file of the cluster running on
// this machine.
const StateDir = "/run/runner-kubetest"

// BridgeName is the CNI bridge of the pod network.
const BridgeName = "kubetest0"

// cgroupRoot is the cgroup (in every v1 hierarchy) that holds the pods.
const cgroupRoot = "runner-kubetest"

// tunedSysctls are the sysctls the kubelet sets at start
// (setupKernelTunables) and the bridge plugin sets for a gateway
// (ip_forward). Their values are saved before and restored after.
var tunedSysctls = []string{
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/panic",
	"kernel/panic_on_oops",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
	"net/ipv4/ip_forward",
}

// hostState is what the running cluster owns: its directory (every
// process it started names it on its command line) and the sysctl values
// to restore.
type hostState struct {
	Dir     string            `json:"dir"`
	Sysctls map[string]string `json:"sysctls"`
	Bridges []string          `json:"bridges,omitempty"`
	Cgroups []string          `json:"cgroups,omitempty"`
	// Tables are the nftables tables of its kube-proxy ("FAMILY NAME").
	Tables []string `json:"tables,omitempty"`
}

// bridges and cgroups are the state's, with the first node's for a state
// file written before there were more nodes.
func (st *hostState) bridges() []string { return withFirst(st.Bridges, BridgeName) }
func (st *hostState) cgroups() []string { return withFirst(st.Cgroups, cgroupRoot) }

func withFirst(list []string, first string) []string {
	for _, x := range list {
		if x == first {
			return list
		}
	}
	return append([]string{first}, list...)
}

func stateFile() string { return filepath.Join(StateDir, "state.json") }

// lockHost takes the machine-wide cluster lock, waiting for another
// cluster to stop until ctx ends.
func lockHost(ctx context.Context, logf func(string, ...any)) (*os.File, error) {
	if err := os.MkdirAll(StateDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(StateDir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	waiting := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if !waiting {
			logf("waiting for the cluster of another test process to stop (%s)", f.Name())
			waiting = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another cluster on this machine: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func readState() (*hostState, error) {
	b, err := os.ReadFile(stateFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st hostState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", stateFile(), err)
	}
	return &st, nil
}

func writeState(st *hostState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := stateFile() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, stateFile())
}

func sysctlPath(name string) string { return filepath.Join("/proc/sys", name) }

func saveSysctls() (map[string]string, error) {
	m := map[string]string{}
	for _, name := range tunedSysctls {
		b, err := os.ReadFile(sysctlPath(name))
		if err != nil {
			return nil, fmt.Errorf("sysctl: %w", err)
		}
		m[name] = strings.TrimSpace(string(b))
	}
	return m, nil
}

// sweep puts back what the cluster of st changed: its processes (and the
// containers in its cgroups) killed, its mounts (network namespaces
// included) detached, its cgroups and bridge removed, the sysctls
// restored, its directory removed, and the state file deleted last. It
// returns what it had to clean, and the first error it met.
func sweep(st *hostState) (cleaned []string, err error) {
	keep := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	if st.Dir != "" {
		pids := processesNaming(st.Dir)
		for _, pid := range pids {
			cleaned = append(cleaned, fmt.Sprintf("process %d (%s)", pid, comm(pid)))
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		keep(waitGone(pids, 10*time.Second))
	}
	c, e := removeCgroups(st.cgroups())
	cleaned = append(cleaned, c...)
	keep(e)
	if st.Dir != "" {
		c, e := unmountUnder(st.Dir)
		cleaned = append(cleaned, c...)
		keep(e)
	}
	c, e = sweepTables(st.Tables)
	cleaned = append(cleaned, c...)
	keep(e)
	for _, br := range st.bridges() {
		if l, e := netlink.LinkByName(br); e == nil {
			cleaned = append(cleaned, "bridge "+br)
			keep(netlink.LinkDel(l))
		}
	}
	names := make([]string, 0, len(st.Sysctls))
	for name := range st.Sysctls {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want := st.Sysctls[name]
		b, e := os.ReadFile(sysctlPath(name))
		if e != nil || strings.TrimSpace(string(b)) == want {
			continue
		}
		cleaned = append(cleaned, fmt.Sprintf("sysctl %s %s -> %s", name, strings.TrimSpace(string(b)), want))
		keep(os.WriteFile(sysctlPath(name), []byte(want), 0o644))
	}
	if st.Dir != "" {
		keep(os.RemoveAll(st.Dir))
	}
	if err == nil {
		if e := os.Remove(stateFile()); e != nil && !errors.Is(e, fs.ErrNotExist) {
			err = e
		}
	}
	return cleaned, err
}

// processesNaming lists the processes whose command line names dir: the
// cluster's components and containerd's shims (`-address DIR/...`).
func processesNaming(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			if arg == dir || strings.HasPrefix(arg, dir+"/") || strings.Contains(arg, "="+dir+"/") {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie is gone for our purposes: its parent reaps it.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2] != 'Z'
	}
	return true
}

func waitGone(pids []int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("process %d (%s) did not exit", pid, comm(pid))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// cgroupHierarchies lists the mounted cgroup v1 hierarchies.
func cgroupHierarchies() []string {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup"))
	if err != nil {
		return nil
	}
	var dirs []string
	for _, m := range mounts {
		dirs = append(dirs, m.Mountpoint)
	}
	return dirs
}

// makeCgroups creates the pods' cgroup root in every hierarchy (the kubelet
// checks that it exists), with the cpuset of its parent.
func makeCgroups(root string) error {
	for _, h := range cgroupHierarchies() {
		d := filepath.Join(h, root)
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("cgroup: %w", err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if b, err := os.ReadFile(filepath.Join(h, f)); err == nil {
				if err := os.WriteFile(filepath.Join(d, f), b, 0o644); err != nil {
					return fmt.Errorf("cgroup: %w", err)
				}
			}
		}
	}
	return nil
}

// removeCgroups kills what is left in the pods' cgroups and removes them,
// deepest first.
func removeCgroups(roots []string) (cleaned []string, err error) {
	for _, h := range cgroupHierarchies() {
		for _, r := range roots {
			c, e := removeCgroup(filepath.Join(h, r))
			cleaned = append(cleaned, c...)
			if e != nil && err == nil {
				err = e
			}
		}
	}
	return cleaned, err
}

func removeCgroup(root string) (cleaned []string, err error) {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for _, d := range dirs {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, e := strconv.Atoi(f); e == nil {
				cleaned = append(cleaned, fmt.Sprintf("process %d (%s) in %s", pid, comm(pid), d))
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if len(dirs) > 1 {
		cleaned = append(cleaned, fmt.Sprintf("%d cgroups under %s", len(dirs)-1, root))
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if e := rmdirRetry(dirs[i]); e != nil && err == nil {
			err = e
		}
	}
	return cleaned, err
}

func rmdirRetry(d string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Rmdir(d)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: %w", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil
	}
	var mps []string
	for _, m := range mounts {
		mps = append(mps, m.Mountpoint)
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	return mps
}

func unmountUnder(dir string) (cleaned []string, err error) {
	for _, mp := range mountsUnder(dir) {
		cleaned = append(cleaned, "mount "+mp)
		if e := unix.Unmount(mp, unix.MNT_DETACH); e != nil && !errors.Is(e, unix.EINVAL) && !errors.Is(e, unix.ENOENT) && err == nil {
			err = fmt.Errorf("unmount %s: %w", mp, e)
		}
	}
	return cleaned, err
}

// makeBridge creates the pod network's bridge with the gateway address
// before any pod exists, so that a test can listen there first; the CNI
// bridge plugin adopts it.
func makeBridge(name string, gw net.IP, subnet *net.IPNet) error {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(br); err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw, Mask: subnet.Mask}}
	if err := netlink.AddrAdd(br, addr); err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	return nil
}

// subnetInUse reports a route of this machine that overlaps subnet.
func subnetInUse(subnet *net.IPNet) (string, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return "", err
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		if ones, _ := r.Dst.Mask.Size(); ones == 0 {
			continue // a default route
		}
		if r.Dst.Contains(subnet.IP) || subnet.Contains(r.Dst.IP) {
			name := ""
			if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
				name = " on " + l.Attrs().Name
			}
			return r.Dst.String() + name, nil
		}
	}
	return "", nil
}
