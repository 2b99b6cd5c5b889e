package buildkit

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

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

// mountsUnder lists mount points below dir from /proc/self/mountinfo.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
