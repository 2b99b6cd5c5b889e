package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// runtimeSpec builds the runc config from the image config: Entrypoint,
// Cmd, Env, WorkingDir and User, in a network namespace at netns, confined
// as confine says with s.Limits.
func runtimeSpec(cfg v1.Config, s Spec, rootfs, netns string) (*specs.Spec, error) {
	entry, cmd := cfg.Entrypoint, cfg.Cmd
	if s.Entrypoint != nil {
		entry, cmd = s.Entrypoint, nil // docker run --entrypoint drops the image's Cmd
	}
	args := append([]string{}, entry...)
	if s.Command != nil {
		args = append(args, s.Command...)
	} else {
		args = append(args, cmd...)
	}
	if len(args) == 0 {
		return nil, errors.New("the image has no Entrypoint or Cmd and no command was given")
	}
	env := mergeEnv(cfg.Env, s.Env)
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	user, err := resolveUser(rootfs, cfg.User)
	if err != nil {
		return nil, err
	}
	// Like docker: HOME from the user's passwd entry unless the image or
	// the step sets it, and the user's supplementary groups.
	home, groups := homeAndGroups(rootfs, user)
	user.AdditionalGids = groups
	if !hasKey(env, "HOME") {
		env = append(env, "HOME="+home)
	}
	ro := []string{"nosuid", "noexec", "nodev", "ro"}
	spec := &specs.Spec{
		Version:  specs.Version,
		Hostname: "runner",
		Root:     &specs.Root{Path: rootfs},
		Process: &specs.Process{
			Args: args, Env: env, Cwd: cwd, User: user,
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: ro},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: append([]string{"relatime"}, ro...)},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: netns},
				{Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
		},
	}
	if err := confine(spec, s.Limits); err != nil {
		return nil, err
	}
	return spec, nil
}

// mergeEnv overrides the image's entries with extra ones by key and adds
// PATH when the image has none.
func mergeEnv(image, extra []string) []string {
	var out []string
	idx := map[string]int{}
	for _, e := range append(append([]string{}, image...), extra...) {
		k, _, _ := strings.Cut(e, "=")
		if i, ok := idx[k]; ok {
			out[i] = e
			continue
		}
		idx[k] = len(out)
		out = append(out, e)
	}
	if _, ok := idx["PATH"]; !ok {
		out = append(out, defaultPath)
	}
	return out
}

// resolveUser turns the image's User ("", "name", "uid", "uid:gid",
// "name:group") into ids using the rootfs's /etc/passwd and /etc/group.
func resolveUser(rootfs, u string) (specs.User, error) {
	if u == "" {
		return specs.User{}, nil
	}
	usr, grp, hasGrp := strings.Cut(u, ":")
	var out specs.User
	pw, err := readDB(rootfs, "/etc/passwd")
	if err != nil {
		return out, err
	}
	if id, err := strconv.ParseUint(usr, 10, 32); err == nil {
		out.UID = uint32(id)
		for _, f := range pw {
			if len(f) > 3 && f[2] == usr {
				if g, err := strconv.ParseUint(f[3], 10, 32); err == nil {
					out.GID = uint32(g)
				}
			}
		}
	} else {
		found := false
		for _, f := range pw {
			if len(f) > 3 && f[0] == usr {
				uid, err1 := strconv.ParseUint(f[2], 10, 32)
				gid, err2 := strconv.ParseUint(f[3], 10, 32)
				if err1 != nil || err2 != nil {
					return out, fmt.Errorf("image user %q: bad /etc/passwd entry", u)
				}
				out.UID, out.GID, found = uint32(uid), uint32(gid), true
				break
			}
		}
		if !found {
			return out, fmt.Errorf("image user %q: not in the image's /etc/passwd", u)
		}
	}
	if !hasGrp {
		return out, nil
	}
	if id, err := strconv.ParseUint(grp, 10, 32); err == nil {
		out.GID = uint32(id)
		return out, nil
	}
	gr, err := readDB(rootfs, "/etc/group")
	if err != nil {
		return out, err
	}
	for _, f := range gr {
		if len(f) > 2 && f[0] == grp {
			gid, err := strconv.ParseUint(f[2], 10, 32)
			if err != nil {
				return out, fmt.Errorf("image group %q: bad /etc/group entry", grp)
			}
			out.GID = uint32(gid)
			return out, nil
		}
	}
	return out, fmt.Errorf("image group %q: not in the image's /etc/group", grp)
}

// homeAndGroups finds the home directory of user's uid ("/" when the
// image's /etc/passwd does not list it) and the other groups /etc/group
// lists the user name in.
func homeAndGroups(rootfs string, user specs.User) (home string, gids []uint32) {
	home = "/"
	pw, _ := readDB(rootfs, "/etc/passwd")
	name := ""
	for _, f := range pw {
		if len(f) > 5 && f[2] == strconv.FormatUint(uint64(user.UID), 10) {
			name, home = f[0], f[5]
			if home == "" {
				home = "/"
			}
			break
		}
	}
	if name == "" {
		return home, nil
	}
	gr, _ := readDB(rootfs, "/etc/group")
	for _, f := range gr {
		if len(f) < 4 {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || uint32(gid) == user.GID {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if strings.TrimSpace(m) == name {
				gids = append(gids, uint32(gid))
				break
			}
		}
	}
	return home, gids
}

func hasKey(env []string, key string) bool {
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			return true
		}
	}
	return false
}

// readDB reads a colon-separated file inside rootfs; a missing one is empty.
func readDB(rootfs, name string) ([][]string, error) {
	p, err := securejoin.SecureJoin(rootfs, name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Split(line, ":"))
		}
	}
	return out, sc.Err()
}
