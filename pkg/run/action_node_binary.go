package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/birdflock/runner/pkg/container"
)

// nodeBinary is the node that runs JavaScript actions and its version.
type nodeBinary struct {
	path    string
	version string // "v20.11.1"
	major   int    // 0: unknown
}

// nodeVersions caches `node --version` by path, size and modification
// time: asking costs a node start (tens of milliseconds), and one node
// serves every action of every run.
var nodeVersions sync.Map // nodeKey → string

type nodeKey struct {
	path  string
	size  int64
	mtime time.Time
}

// node is the node binary that runs an action asking for node major
// want (0: any): Options.Node when set; else the first of
// Options.BundledNode (when it runs here) and node on the base
// environment's PATH (not a step's: as on GitHub, a setup-node step
// changes the node of run: steps, not the one actions run with) that is
// at least want, else the newest that runs (the step warns that it is
// older).
func (r *runState) node(want int) (nodeBinary, error) {
	if r.opts.Node != "" {
		return r.probeNode(r.opts.Node)
	}
	var found []nodeBinary
	bundled := ""
	if b := r.opts.BundledNode; b != "" {
		if !fileExists(b) {
			bundled = "no node was copied in beside runner (the template's image has none on its PATH, or the copy failed: see the pod's init container)"
		} else if interp := missingLoader(b, "/"); interp != "" {
			bundled = "runner's node (copied from the template's image) needs the dynamic loader " + interp + ", which this image lacks"
		} else if n, err := r.probeNode(b); err != nil {
			bundled = "runner's node (copied from the template's image) cannot run in this image: " + err.Error()
		} else {
			found = append(found, n)
		}
	}
	if path := r.lookPath("node", r.basePath); strings.ContainsRune(path, '/') {
		n, err := r.probeNode(path)
		if err != nil && len(found) == 0 {
			return nodeBinary{}, err
		}
		if err == nil {
			found = append(found, n)
		}
	}
	best := -1
	for i, n := range found {
		if n.major >= want || n.major == 0 {
			return n, nil
		}
		if best < 0 || n.major > found[best].major {
			best = i
		}
	}
	if best >= 0 {
		return found[best], nil
	}
	if bundled != "" {
		// A job's container: in a pod.
		return nodeBinary{}, errors.New("no node on the PATH of the job's container: image, and " + bundled + "; a JavaScript action needs an image with node on its PATH, or a glibc image (with libstdc++) that can run runner's (docs/kubernetes.md)")
	}
	if r.opts.remoteLeg {
		// runner exec --node sets the controller's node, not the pod's.
		return nodeBinary{}, errors.New("no node on the PATH of the remote leg (a Kubernetes pod: its image's PATH); a JavaScript action needs an image with node on its PATH: the executor's image, or a template for the job's runs-on labels (docs/kubernetes.md)")
	}
	return nodeBinary{}, errors.New("no node on the PATH; install Node.js or name one (runner exec --node PATH)")
}

// missingLoader is the dynamic loader the ELF binary bin names when root
// lacks it, "" when root has it or bin needs none.
func missingLoader(bin, root string) string {
	if interp := container.ELFInterpreter(bin); interp != "" && !fileExists(filepath.Join(root, interp)) {
		return interp
	}
	return ""
}

// probeNode is the node at path with its version (node --version, asked
// once per file).
func (r *runState) probeNode(path string) (nodeBinary, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nodeBinary{}, fmt.Errorf("node: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return nodeBinary{}, fmt.Errorf("node: %s is not an executable file", path)
	}
	key := nodeKey{path, fi.Size(), fi.ModTime()}
	v, ok := nodeVersions.Load(key)
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, "--version")
		cmd.Env = environ(r.base, nil)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		outb, err := cmd.Output()
		if err != nil {
			if line, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n"); line != "" {
				return nodeBinary{}, fmt.Errorf("node: %s --version: %w: %s", path, err, line)
			}
			return nodeBinary{}, fmt.Errorf("node: %s --version: %w", path, err)
		}
		v, _ = nodeVersions.LoadOrStore(key, strings.TrimSpace(string(outb)))
	}
	n := nodeBinary{path: path, version: v.(string)}
	major, _, _ := strings.Cut(strings.TrimPrefix(n.version, "v"), ".")
	n.major, _ = strconv.Atoi(major)
	return n, nil
}
