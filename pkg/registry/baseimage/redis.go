package baseimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RedisOptions say where Debian's Redis and bash are. The zero value uses
// the paths of the packages redis-server (redis-tools) and bash.
type RedisOptions struct {
	Options
	Server string // default /usr/bin/redis-server
	CLI    string // default /usr/bin/redis-cli
	Bash   string // default /bin/bash
}

var redisVerRE = regexp.MustCompile(`v=(\S+)`)

// Redis builds a stand-in for redis:7 from Debian binaries: the alpine
// layer plus redis-server, redis-cli and bash with the shared libraries
// ldd lists, /data as the working directory, and redis-server on port
// 6379 with no persistence and protected mode off (reached from outside
// its network namespace through the port proxy, as docker's image is).
// The image has bash and redis-cli, so it also serves as a job container
// that talks to a Redis service. It is not part of Build: the tests use it.
func Redis(ctx context.Context, o RedisOptions) (v1.Image, error) {
	o.Options = o.Options.withDefaults()
	if o.Server == "" {
		o.Server = "/usr/bin/redis-server"
	}
	if o.CLI == "" {
		o.CLI = "/usr/bin/redis-cli"
	}
	if o.Bash == "" {
		o.Bash = "/bin/bash"
	}
	base, err := alpineLayer(ctx, o.Options)
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, o.Server, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("redis stand-in needs Debian's redis-server: %s --version: %w", o.Server, err)
	}
	version := "unknown"
	if m := redisVerRE.FindSubmatch(out); m != nil {
		version = string(m[1])
	}
	t := fsTree{}
	// redis-server is a link to redis-check-rdb, which acts by its name:
	// the image gets the file under the server's name.
	if err := t.binaries(ctx, map[string]string{
		"usr/bin/redis-server": o.Server,
		"usr/bin/redis-cli":    o.CLI,
		"bin/bash":             o.Bash,
	}); err != nil {
		return nil, fmt.Errorf("redis stand-in: %w", err)
	}
	t.dir("data", 0o755)
	t.file("etc/passwd", 0o644, []byte(passwd+"redis:x:999:999::/home/redis:/bin/sh\n"))
	t.file("etc/group", 0o644, []byte(group+"redis:x:999:\n"))
	l, err := t.layer(o.Created)
	if err != nil {
		return nil, err
	}
	return assemble(o.Options, []v1.Layer{base, l}, []string{
		"busybox-static: " + o.Busybox + " and applet links",
		"redis " + version + ": " + o.Server + ", " + o.CLI + ", " + o.Bash + " and their libraries",
	}, v1.Config{
		Env:          []string{"PATH=" + defaultPath, "REDIS_VERSION=" + version},
		Cmd:          []string{"redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"},
		WorkingDir:   "/data",
		ExposedPorts: map[string]struct{}{"6379/tcp": {}},
	})
}

// binaries adds host files at image paths (target → host file, links
// followed) and every shared library ldd lists for them, at the host's
// path.
func (t fsTree) binaries(ctx context.Context, files map[string]string) error {
	for target, host := range files {
		b, err := os.ReadFile(host)
		if err != nil {
			return err
		}
		t.file(target, 0o755, b)
		if err := t.libraries(ctx, host); err != nil {
			return err
		}
	}
	return nil
}

// libraries adds the shared libraries bin loads (ldd) at their paths on
// this machine.
func (t fsTree) libraries(ctx context.Context, bin string) error {
	libs, err := sharedLibraries(ctx, bin)
	if err != nil {
		return err
	}
	for _, lib := range libs {
		if _, ok := t[clean(lib)]; ok {
			continue
		}
		b, err := os.ReadFile(lib) // follows symlinks: the image gets the real file
		if err != nil {
			return fmt.Errorf("library of %s: %w", bin, err)
		}
		t.file(lib, 0o755, b)
	}
	return nil
}
