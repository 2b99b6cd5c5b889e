package buildkit

import (
	"os/exec"
	"path/filepath"
	"sort"

	"github.com/moby/sys/mountinfo"

	"golang.org/x/sys/unix"
)

// cleanupState removes what a buildkitd killed in the middle of a build
// leaves under root: its RUN containers (in runc's default state dir) and
// overlay mounts. Called with the state dir's lock held and no daemon
// running, before a start and after every stop.
func cleanupState(root, runc string) {
	dirs, _ := filepath.Glob(filepath.Join(root, "runc-*", "executor", "*"))
	for _, d := range dirs {
		// delete --force kills what still runs; a missing container is fine.
		_ = exec.Command(runc, "delete", "--force", filepath.Base(d)).Run()
	}
	mps := mountsUnder(root)
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) }) // children first
	for _, m := range mps {
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}
}

// mountsUnder lists mount points below dir (moby/sys/mountinfo reads
// /proc/self/mountinfo and undoes its escapes).
func mountsUnder(dir string) []string {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range mounts {
		if m.Mountpoint != dir {
			out = append(out, m.Mountpoint)
		}
	}
	return out
}
