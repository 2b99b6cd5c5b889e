package kubetest

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/birdflock/runner/pkg/registry/baseimage"
)

// ToolchainOptions say what the toolchain image of the job pods holds
// beside runner: this machine's Go (GOROOT) and node with npm, and caches
// filled on this machine for the projects named, so that their `go mod
// download`, `go build` and `npm ci` need no network in a pod.
type ToolchainOptions struct {
	// CacheDir keeps the built layers (one directory per set of inputs),
	// so a warm test does not rebuild them; required (the tests use the
	// module's ignored .cache/kube/toolchain).
	CacheDir string
	// GoModules are directories of Go modules: their dependencies go into
	// the image's module cache, and `go build -trimpath` of the module
	// (CGO_ENABLED=0 GOOS=linux, as the bird-flock workflow builds) fills
	// its build cache.
	GoModules []string
	// NpmProjects are directories with a package-lock.json: `npm ci`
	// there fills the image's npm cache.
	NpmProjects []string
	// GoRoot is the Go toolchain copied in; default `go env GOROOT`.
	GoRoot string
	// Node is node's binary (with its shared libraries); default
	// /usr/bin/node. NpmDir is npm's package; default
	// /usr/lib/node_modules/npm.
	Node, NpmDir string
	// Log receives what is built; default: nothing.
	Log func(format string, args ...any)
}

// Where the toolchain lives in the image.
const (
	imageGoRoot = "/usr/local/go"
	toolcache   = "/opt/toolcache"
)

// ToolchainEnv is the image's environment besides PATH: where its caches
// are, and a Go that never downloads a toolchain. Offline use (GOPROXY=off,
// GOFLAGS=-mod=mod, npm_config_offline=true) is the pod template's choice.
var ToolchainEnv = []string{
	"GOTOOLCHAIN=local",
	"GOCACHE=" + toolcache + "/go-build",
	"GOMODCACHE=" + toolcache + "/go-mod",
	"npm_config_cache=" + toolcache + "/npm",
	"npm_config_update_notifier=false",
}

// ToolchainImage is base (baseimage.Runner: busybox, bash, runner) with
// the toolchain layers appended: Go at /usr/local/go (on the PATH), node
// and npm at Debian's paths, the caches under /opt/toolcache
// (ToolchainEnv). The layers are built once per set of inputs into
// o.CacheDir and reused from there.
func ToolchainImage(ctx context.Context, base v1.Image, o ToolchainOptions) (v1.Image, error) {
	layers, err := toolchainLayers(ctx, o)
	if err != nil {
		return nil, err
	}
	img := base
	for _, l := range layers {
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l.layer, MediaType: types.OCILayer,
			History: v1.History{CreatedBy: "kubetest toolchain: " + l.what}}); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	var env []string
	for _, e := range cf.Config.Env {
		if p, ok := strings.CutPrefix(e, "PATH="); ok {
			e = "PATH=" + imageGoRoot + "/bin:" + p
		}
		env = append(env, e)
	}
	cf.Config.Env = append(env, ToolchainEnv...)
	return mutate.ConfigFile(img, cf)
}

type namedLayer struct {
	what  string
	layer v1.Layer
}

// toolchainLayers returns the go, node and caches layers from the cache,
// building them first when the inputs changed.
func toolchainLayers(ctx context.Context, o ToolchainOptions) ([]namedLayer, error) {
	if o.CacheDir == "" {
		return nil, errors.New("toolchain image: no cache directory")
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	if o.GoRoot == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
		if err != nil {
			return nil, &MissingError{What: "go", How: fmt.Sprintf("go env GOROOT: %v", err)}
		}
		o.GoRoot = strings.TrimSpace(string(out))
	}
	if o.Node == "" {
		o.Node = "/usr/bin/node"
	}
	if o.NpmDir == "" {
		o.NpmDir = "/usr/lib/node_modules/npm"
	}
	for _, p := range []string{o.Node, filepath.Join(o.NpmDir, "bin", "npm-cli.js")} {
		if _, err := os.Stat(p); err != nil {
			return nil, &MissingError{What: "node or npm", How: fmt.Sprintf("%v: install Debian package nodejs (with npm)", err)}
		}
	}
	var err error
	if o.CacheDir, err = filepath.Abs(o.CacheDir); err != nil {
		return nil, err
	}
	key, err := toolchainKey(o)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(o.CacheDir, key)
	names := []string{"go", "node", "caches"}
	if _, err := os.Stat(filepath.Join(dir, "done")); err != nil {
		start := time.Now()
		if err := buildToolchain(ctx, o, dir); err != nil {
			return nil, err
		}
		o.Log("toolchain layers built in %s: %s", time.Since(start).Round(time.Millisecond), dir)
		// Layers of earlier inputs go: one set is kept.
		entries, _ := os.ReadDir(o.CacheDir)
		for _, e := range entries {
			if n := e.Name(); len(n) == len(key) && strings.Trim(n, "0123456789abcdef") == "" && n != key {
				os.RemoveAll(filepath.Join(o.CacheDir, n))
			}
		}
	}
	var out []namedLayer
	for _, n := range names {
		l, err := tarball.LayerFromFile(filepath.Join(dir, n+".tar.gz"), tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, fmt.Errorf("toolchain layer %s: %w", n, err)
		}
		out = append(out, namedLayer{what: n, layer: l})
	}
	return out, nil
}

// toolchainKey names the inputs: this code's format, Go's version and
// GOROOT, node's and npm's files, and the projects' dependency lists.
func toolchainKey(o ToolchainOptions) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "toolchain v3\n%s\n", o.GoRoot)
	inputs := []string{filepath.Join(o.GoRoot, "VERSION"), filepath.Join(o.NpmDir, "package.json")}
	for _, m := range o.GoModules {
		inputs = append(inputs, filepath.Join(m, "go.mod"), filepath.Join(m, "go.sum"))
	}
	for _, p := range o.NpmProjects {
		inputs = append(inputs, filepath.Join(p, "package-lock.json"))
	}
	for i, f := range inputs {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) && strings.HasSuffix(f, "go.sum") {
			b, err = nil, nil // a module without dependencies
		}
		if err != nil {
			return "", fmt.Errorf("toolchain image: %w", err)
		}
		fmt.Fprintf(h, "%d %s %d\n", i, filepath.Base(f), len(b))
		h.Write(b)
	}
	fi, err := os.Stat(o.Node)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "%s %d %d\n", o.Node, fi.Size(), fi.ModTime().UnixNano())
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// buildToolchain fills the caches on this machine (where `go mod download`
// and `npm ci` may use the Go proxy and the npm registry) and writes the
// three layers into dir, through a temporary directory renamed into place.
func buildToolchain(ctx context.Context, o ToolchainOptions, dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	caches := filepath.Join(tmp, "toolcache")
	for _, d := range []string{"go-build", "go-mod", "npm"} {
		if err := os.MkdirAll(filepath.Join(caches, d), 0o755); err != nil {
			return err
		}
	}
	goBin := filepath.Join(o.GoRoot, "bin", "go")
	for i, m := range o.GoModules {
		work := filepath.Join(tmp, fmt.Sprintf("go-%d", i))
		if err := copyTree(m, work); err != nil {
			return err
		}
		env := append(os.Environ(), "GOMODCACHE="+filepath.Join(caches, "go-mod"), "GOCACHE="+filepath.Join(caches, "go-build"),
			"GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOOS=linux")
		for _, args := range [][]string{{"mod", "download"}, {"build", "-trimpath", "-o", os.DevNull, "."}} {
			if err := command(ctx, work, env, goBin, args...); err != nil {
				return fmt.Errorf("toolchain image: %s: %w", m, err)
			}
		}
	}
	for i, p := range o.NpmProjects {
		work := filepath.Join(tmp, fmt.Sprintf("npm-%d", i))
		if err := os.MkdirAll(work, 0o755); err != nil {
			return err
		}
		for _, f := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(p, f))
			if err != nil {
				return fmt.Errorf("toolchain image: %w", err)
			}
			if err := os.WriteFile(filepath.Join(work, f), b, 0o644); err != nil {
				return err
			}
		}
		env := append(os.Environ(), "npm_config_cache="+filepath.Join(caches, "npm"), "npm_config_update_notifier=false")
		if err := command(ctx, work, env, o.Node, filepath.Join(o.NpmDir, "bin", "npm-cli.js"), "ci", "--no-audit", "--no-fund", "--ignore-scripts"); err != nil {
			return fmt.Errorf("toolchain image: npm ci in a copy of %s: %w", p, err)
		}
	}
	os.RemoveAll(filepath.Join(caches, "npm", "_logs"))
	// The projects' native addons (rollup's) load libraries node does not.
	var addons []string
	for i := range o.NpmProjects {
		filepath.WalkDir(filepath.Join(tmp, fmt.Sprintf("npm-%d", i), "node_modules"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".node") {
				addons = append(addons, p)
			}
			return nil
		})
	}

	// Go: what building needs (the command, the compiler and linker,
	// the standard library's sources), not its tests, docs or API lists.
	var goFiles []mapping
	for _, sub := range []string{"VERSION", "go.env", "bin", "pkg", "src", "lib"} {
		if _, err := os.Lstat(filepath.Join(o.GoRoot, sub)); err == nil {
			goFiles = append(goFiles, mapping{host: filepath.Join(o.GoRoot, sub), image: path.Join(imageGoRoot, sub)})
		}
	}
	skipTests := func(rel string, d fs.DirEntry) bool {
		return (d.IsDir() && d.Name() == "testdata") || (!d.IsDir() && strings.HasSuffix(d.Name(), "_test.go"))
	}
	if err := writeLayer(filepath.Join(tmp, "go.tar.gz"), goFiles, skipTests); err != nil {
		return fmt.Errorf("toolchain image: go layer: %w", err)
	}

	// node with its libraries, npm and its commands.
	nodeFiles := []mapping{{host: o.Node, image: "/usr/bin/node"}, {host: o.NpmDir, image: "/usr/lib/node_modules/npm"},
		{link: "../lib/node_modules/npm/bin/npm-cli.js", image: "/usr/bin/npm"},
		{link: "../lib/node_modules/npm/bin/npx-cli.js", image: "/usr/bin/npx"}}
	seen := map[string]bool{}
	for _, bin := range append([]string{o.Node}, addons...) {
		libs, err := baseimage.SharedLibraries(ctx, bin)
		if err != nil {
			return fmt.Errorf("toolchain image: %w", err)
		}
		for _, l := range libs {
			if !seen[l] {
				seen[l] = true
				nodeFiles = append(nodeFiles, mapping{host: l, image: l, follow: true})
			}
		}
	}
	if err := writeLayer(filepath.Join(tmp, "node.tar.gz"), nodeFiles, nil); err != nil {
		return fmt.Errorf("toolchain image: node layer: %w", err)
	}
	if err := writeLayer(filepath.Join(tmp, "caches.tar.gz"), []mapping{{host: caches, image: toolcache}}, nil); err != nil {
		return fmt.Errorf("toolchain image: caches layer: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "done"), nil, 0o644); err != nil {
		return err
	}
	// The work files go first; then the layers' directory is renamed
	// into place at once: another test process building the same set
	// meanwhile keeps the first one's, and a reader never sees a mix.
	work, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range work {
		if e.IsDir() {
			os.RemoveAll(filepath.Join(tmp, e.Name())) // root: the module cache's read-only folders too
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "done")); serr == nil {
			return nil // built by another process meanwhile
		}
		return err
	}
	return nil
}

// command runs name in dir with env; its output is in the error.
func command(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return nil
}

// copyTree copies the regular files and directories under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// mapping puts a host file or tree at an image path, or a symlink there.
type mapping struct {
	host, image, link string
	follow            bool // a symlink on the host becomes the file it names
}

// layerTime is every entry's time: equal inputs give equal layers.
var layerTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// writeLayer writes the mappings as a gzipped tar at file, owned by root,
// with their parent directories, names sorted within each tree; skip
// (when set) leaves out entries of the trees.
func writeLayer(file string, ms []mapping, skip func(rel string, d fs.DirEntry) bool) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	parents := func(p string) error {
		var missing []string
		for d := path.Dir(p); d != "/" && d != "." && !dirs[d]; d = path.Dir(d) {
			missing = append(missing, d)
		}
		sort.Strings(missing)
		for _, d := range missing {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: layerTime, Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
		return nil
	}
	add := func(image, host string, fi fs.FileInfo) error {
		if err := parents(image); err != nil {
			return err
		}
		name := strings.TrimPrefix(image, "/")
		h := &tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), ModTime: layerTime, Format: tar.FormatPAX}
		switch {
		case fi.IsDir():
			dirs[image] = true
			h.Typeflag, h.Name = tar.TypeDir, name+"/"
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(host)
			if err != nil {
				return err
			}
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, target, 0o777
		case fi.Mode().IsRegular():
			h.Typeflag, h.Size = tar.TypeReg, fi.Size()
		default:
			return nil // sockets, devices: not in a toolchain
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			return nil
		}
		r, err := os.Open(host)
		if err != nil {
			return err
		}
		defer r.Close()
		n, err := io.Copy(tw, r)
		if err == nil && n != h.Size {
			err = fmt.Errorf("%s changed while it was read", host)
		}
		return err
	}
	for _, m := range ms {
		if m.link != "" {
			if err := parents(m.image); err != nil {
				return err
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: strings.TrimPrefix(m.image, "/"), Linkname: m.link, Mode: 0o777, ModTime: layerTime, Format: tar.FormatPAX}); err != nil {
				return err
			}
			continue
		}
		stat := os.Lstat
		if m.follow {
			stat = os.Stat
		}
		fi, err := stat(m.host)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			if err := add(m.image, m.host, fi); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(m.host, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(m.host, p)
			if skip != nil && rel != "." && skip(rel, d) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return add(path.Join(m.image, filepath.ToSlash(rel)), p, fi)
		})
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}
