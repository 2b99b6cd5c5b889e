package kubetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"

	"github.com/vishvananda/netlink"
)

// hostSnapshot is what a cluster could leave behind on this machine.
type hostSnapshot struct {
	processes []string          // cluster components and shims, by command line
	mounts    map[string]bool   // mount points of the kinds a cluster makes
	netns     []string          // /run/netns entries
	cgroups   []string          // pod cgroups in any hierarchy
	links     []string          // the bridge and the veths on it
	iptables  []string          // rules and chains the kubelet or CNI would add
	nftables  []string          // nftables tables (kube-proxy's, and what iptables-nft makes)
	sysctls   map[string]string // kernel, vm and net/ipv4 settings
}

var clusterBinaries = map[string]bool{
	"etcd": true, "kube-apiserver": true, "kube-controller-manager": true,
	"kube-scheduler": true, "kubelet": true, "containerd": true, "containerd-shim-runc-v2": true,
	"kube-proxy": true, "coredns": true,
}

// Sysctls that change on their own.
var volatileSysctls = map[string]bool{
	"kernel/ns_last_pid": true, "kernel/random/entropy_avail": true, "kernel/random/uuid": true,
	"kernel/random/boot_id": true, "kernel/pty/nr": true, "kernel/tainted": true,
	"vm/stat_interval": false, "kernel/hung_task_detect_count": true,
	"net/netfilter/nf_conntrack_count": true,
}

func snapshotHost(t *testing.T, dir string) hostSnapshot {
	t.Helper()
	s := hostSnapshot{mounts: map[string]bool{}, sysctls: map[string]string{}}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if clusterBinaries[filepath.Base(args[0])] || (dir != "" && strings.Contains(string(b), dir)) {
			s.processes = append(s.processes, strings.Join(args, " "))
		}
	}
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		mp := m.Mountpoint
		// The cluster's network namespaces are nsfs mounts under its
		// directory. Not every nsfs mount or path naming containerd:
		// BuildKit of other tests mounts network namespaces and
		// /tmp/containerd-mount* for a moment.
		if strings.Contains(mp, "kubetest") || strings.Contains(mp, "kubelet") ||
			strings.HasPrefix(mp, "/run/containerd") || strings.HasPrefix(mp, "/run/netns") {
			s.mounts[mp] = true
		}
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			s.netns = append(s.netns, e.Name())
		}
	}
	for _, h := range cgroupHierarchies() {
		ents, _ := os.ReadDir(h)
		for _, e := range ents {
			if e.IsDir() && (strings.HasPrefix(e.Name(), cgroupRoot) || e.Name() == "kubepods") {
				s.cgroups = append(s.cgroups, filepath.Join(h, e.Name()))
			}
		}
	}
	all, _ := netlink.LinkList()
	for _, l := range all {
		if !strings.HasPrefix(l.Attrs().Name, "kubetest") {
			continue
		}
		s.links = append(s.links, l.Attrs().Name)
		for _, o := range all {
			if o.Attrs().MasterIndex == l.Attrs().Index {
				s.links = append(s.links, o.Attrs().Name)
			}
		}
	}
	for _, bin := range []string{"iptables-save", "ip6tables-save"} {
		out, err := exec.Command(bin).Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "KUBE-") || strings.Contains(line, "CNI-") || strings.Contains(line, "kubetest") {
				s.iptables = append(s.iptables, bin+": "+line)
			}
		}
	}
	if out, err := exec.Command("nft", "list", "tables").Output(); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line != "" {
				s.nftables = append(s.nftables, line)
			}
		}
	}
	// net/ipv4/conf/all: route_localnet, which kube-proxy's iptables mode
	// sets; net/netfilter: the conntrack limits and timeouts it tunes.
	for _, top := range []string{"kernel", "vm", "net/ipv4", "net/core", "net/ipv4/conf/all", "net/netfilter"} {
		root := filepath.Join("/proc/sys", top)
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				// Per-interface settings go with their interface.
				if p != root && (d.Name() == "conf" || d.Name() == "neigh") {
					return filepath.SkipDir
				}
				return nil
			}
			name := strings.TrimPrefix(p, "/proc/sys/")
			if volatileSysctls[name] {
				return nil
			}
			if info, err := d.Info(); err != nil || info.Mode().Perm()&0o444 == 0 {
				return nil
			}
			b, err := os.ReadFile(p)
			if err == nil {
				s.sysctls[name] = string(bytes.TrimSpace(b))
			}
			return nil
		})
	}
	sort.Strings(s.processes)
	return s
}

// leftover lists what after has that before had not.
func leftover(before, after hostSnapshot) []string {
	var out []string
	seen := func(list []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range list {
			m[x] = true
		}
		return m
	}
	for _, kind := range []struct {
		name    string
		was, is []string
	}{
		{"process", before.processes, after.processes},
		{"network namespace", before.netns, after.netns},
		{"cgroup", before.cgroups, after.cgroups},
		{"link", before.links, after.links},
		{"iptables", before.iptables, after.iptables},
		{"nftables", before.nftables, after.nftables},
	} {
		old := seen(kind.was)
		for _, x := range kind.is {
			if !old[x] {
				out = append(out, kind.name+" "+x)
			}
		}
	}
	for mp := range after.mounts {
		if !before.mounts[mp] {
			out = append(out, "mount "+mp)
		}
	}
	for name, v := range before.sysctls {
		if w, ok := after.sysctls[name]; ok && w != v {
			out = append(out, fmt.Sprintf("sysctl %s: %s, was %s", name, w, v))
		}
	}
	sort.Strings(out)
	return out
}
