package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
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

// node is the node binary of this run: Options.Node, else
// Options.BundledNode when it runs here, else node on the base
// environment's PATH (not a step's: as on GitHub, a setup-node step
// changes the node of run: steps, not the one actions run with).
func (r *runState) node() (nodeBinary, error) {
	if r.opts.Node != "" {
		return r.probeNode(r.opts.Node)
	}
	bundled := ""
	if b := r.opts.BundledNode; b != "" {
		if !fileExists(b) {
			bundled = "the template's image has no node to copy in"
		} else if interp := container.ELFInterpreter(b); interp != "" && !fileExists(interp) {
			bundled = "runner's node (copied from the template's image) needs the dynamic loader " + interp + ", which this image lacks"
		} else if n, err := r.probeNode(b); err != nil {
			bundled = "runner's node (copied from the template's image) cannot run in this image: " + err.Error()
		} else {
			return n, nil
		}
	}
	path := r.lookPath("node", r.basePath)
	if strings.ContainsRune(path, '/') {
		return r.probeNode(path)
	}
	if bundled != "" {
		bundled = ", and " + bundled
	}
	if r.opts.remoteLeg {
		// runner exec --node sets the controller's node, not the pod's.
		return nodeBinary{}, errors.New("no node on the PATH of the remote leg (a Kubernetes pod: its image's PATH)" + bundled + "; a JavaScript action needs an image with node on its PATH: the executor's image, or a template for the job's runs-on labels (docs/kubernetes.md)")
	}
	return nodeBinary{}, errors.New("no node on the PATH" + bundled + "; install Node.js or name one (runner exec --node PATH)")
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
