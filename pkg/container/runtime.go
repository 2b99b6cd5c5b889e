package container

import (
	"context"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Runtime starts containers. A Docker-engine or Kubernetes backend would be
// another implementation.
//
// Call order for one container:
//
//	c, err := rt.Setup(ctx, spec) // fetch and unpack the image, prepare
//	defer c.Destroy(cleanupCtx)    // always, once Setup returned c
//	logs := c.Logs()               // before or after Start; read it to EOF
//	err = c.Start(ctx)             // process running, ports published
//	c.Ports()                      // after Start
//	code, err := c.Wait(ctx)       // until the process exits or ctx ends
//
// Setup cleans up after itself when it fails. Destroy may be called at any
// point after Setup, more than once, and concurrently with Wait; it must be
// given a context that survives the cancellation of the run (for example
// context.WithoutCancel), so that Ctrl-C still removes the container.
type Runtime interface {
	Setup(ctx context.Context, spec Spec) (Container, error)
}

// Container is one container made by a Runtime.
type Container interface {
	// ID names the container in the runtime (e.g. `runc list`).
	ID() string
	// Logs streams the process's stdout and stderr, interleaved, until it
	// exits. It must be drained: a full pipe blocks the process.
	Logs() io.Reader
	// Start runs the process and publishes the ports.
	Start(ctx context.Context) error
	// Ports maps each published container port to its host address
	// ("127.0.0.1:PORT").
	Ports() map[int]string
	// Wait blocks until the process exits and returns its exit code.
	Wait(ctx context.Context) (int, error)
	// Done is closed when the process has exited.
	Done() <-chan struct{}
	// Destroy stops the process and removes everything Setup made.
	Destroy(ctx context.Context) error
}

// OwnAddresser is a container published on an address of its own
// (Spec.OwnAddress): OwnAddress is that IP, "" when there is none.
type OwnAddresser interface {
	OwnAddress() string
}

// Spec describes what to run. Exactly one of Archive and Ref is set.
type Spec struct {
	// Archive is an OCI archive (tar of an OCI image layout), e.g. the
	// output of `uses: build-image` with `archive:`.
	Archive string
	// Ref is an image reference pulled from its registry; plain http is used
	// for loopback registries.
	Ref string
	// Command replaces the image's Cmd (the Entrypoint is kept), like
	// `docker run IMAGE CMD...`. Default: the image's Cmd.
	Command []string
	// Entrypoint, when not nil, replaces the image's Entrypoint and drops
	// its Cmd, like `docker run --entrypoint`. Default: the image's.
	Entrypoint []string
	// Env entries (KEY=VALUE) are added to the image's Env, overriding it.
	Env []string
	// Ports are container TCP ports to publish on 127.0.0.1.
	Ports []int
	// HostPorts fixes the host port of some of Ports (container port →
	// host port on 127.0.0.1); Start fails when one is taken. Default: an
	// ephemeral host port for each.
	HostPorts map[int]int
	// Images, when set, gets Ref through this cache (unpacked once per
	// manifest digest) and gives the container an overlay over that copy
	// as its root, as a job container has, instead of unpacking Ref into
	// the bundle. Default: unpacked into the bundle.
	Images *ImageCache
	// OwnAddress also publishes each of Ports at its own number on a
	// loopback address of the container's own (127.x.y.z, picked at Start
	// among those where every port is free; see OwnAddresser): a job
	// container sharing the host's network names it by label in
	// /etc/hosts and reaches the service at its container port
	// (redis:6379), as on GitHub's Docker network.
	OwnAddress bool
	// ExecAgent makes runner's agent (agent.go) the container's pid 1:
	// it starts the image's entrypoint and command as its child (as
	// `docker run --init` has tini do; the container still ends with that
	// process and its exit code) and Exec's processes on request, a fork
	// and exec inside the container, already confined, instead of a `runc
	// exec` each (which builds the seccomp filter and joins the
	// namespaces and cgroups again: tens of ms). Where runner's binary
	// cannot run in the image (dynamically linked and the image lacks its
	// libraries) the image's process is pid 1 and Exec is `runc exec`, as
	// without it. Default: no agent.
	ExecAgent bool
	// Limits caps the container's processes and memory. Default:
	// DefaultLimits.
	Limits Limits
	// Mounts are directories of the caller's that the container shares
	// (a Docker action's workspace and file commands), and Workdir its
	// working directory: for a runtime whose containers run beside the
	// caller (a Kubernetes leg's pod, pkg/kube). The runc runtime refuses
	// Mounts (its job containers take JobSpec's).
	Mounts  []Mount
	Workdir string
	// SecretEnv are env entries (KEY=VALUE) whose values hold secrets:
	// the runtime sets them where only the container reads them (a
	// Secret of its own on Kubernetes, not the pod's spec). The runc
	// runtime refuses them.
	SecretEnv []string
	// SecretArgs: Command[i] is the value of the SecretEnv entry named
	// SecretArgs[i] (an arg that holds a secret, out of the spec too).
	SecretArgs map[int]string
	// Pull fetches Ref for this machine's platform. Default: straight from
	// the registry with the docker config's credentials, plain HTTP only for
	// loopback hosts. The built-in steps pass pkg/registry's client, which
	// adds registry mirrors and retries.
	Pull func(ctx context.Context, ref string) (v1.Image, error)
}

// ExposedTCP lists an image's EXPOSEd TCP ports, in order: what Start
// publishes when a Spec names no Ports.
func ExposedTCP(cfg v1.Config) []int { return exposedTCP(cfg) }
