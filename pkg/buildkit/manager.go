package buildkit

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/grpcerrors"
	"google.golang.org/grpc/codes"
	// Connection helpers for BUILDKIT_HOST: docker-container://, kube-pod://,
	// podman-container://, nerdctl-container://, ssh://.
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer"
	_ "github.com/moby/buildkit/client/connhelper/kubepod"
	_ "github.com/moby/buildkit/client/connhelper/nerdctlcontainer"
	_ "github.com/moby/buildkit/client/connhelper/podmancontainer"
	_ "github.com/moby/buildkit/client/connhelper/ssh"
)

// Manager shares one runner-managed buildkitd per state dir between the
// steps of a process: the first Connect starts it, the last Close stops it.
// The zero value is ready to use; it is safe for concurrent use.
type Manager struct {
	mu      sync.Mutex
	daemons map[string]*shared
}

type shared struct {
	d     *Daemon
	users int
}

// Conn is a BuildKit client plus what keeps its daemon alive.
type Conn struct {
	*client.Client
	// Addr is the daemon address; Managed tells whether runner started it.
	Addr    string
	Managed bool
	// Mirrors of a managed daemon (unknown for BUILDKIT_HOST).
	Mirrors registry.Mirrors
	release func(context.Context) error
	daemon  *Daemon // nil for BUILDKIT_HOST
}

// Explain adds buildkitd's exit and log tail to err when runner's own
// daemon died; otherwise it returns err as is.
func (c *Conn) Explain(err error) error {
	if err == nil || c.daemon == nil {
		return err
	}
	explained := func() error {
		return fmt.Errorf("%w; buildkitd exited (%v): %s", err, c.daemon.exitErr, c.daemon.logTail())
	}
	select {
	case <-c.daemon.Done():
		return explained()
	default:
	}
	// A lost connection may be seen before the exit: wait for it then; any
	// other error is the build's own.
	if grpcerrors.Code(err) != codes.Unavailable {
		return err
	}
	select {
	case <-c.daemon.Done():
		return explained()
	case <-time.After(5 * time.Second):
		return err
	}
}

// Close closes the client and, for the last user of a managed daemon,
// stops buildkitd.
func (c *Conn) Close(ctx context.Context) error {
	err := c.Client.Close()
	if c.release != nil {
		if rerr := c.release(ctx); rerr != nil {
			err = rerr
		}
		c.release = nil
	}
	return err
}

// Connect returns a client for host when it is set (the value of
// BUILDKIT_HOST: unix://, tcp://, docker-container://, kube-pod://, ...),
// otherwise for a buildkitd started under opts.Root.
func (m *Manager) Connect(ctx context.Context, host string, opts DaemonOptions) (*Conn, error) {
	if host != "" {
		c, err := client.New(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("connect to BUILDKIT_HOST %s: %w", host, err)
		}
		if err := pingClient(ctx, c); err != nil {
			c.Close()
			return nil, fmt.Errorf("BUILDKIT_HOST %s does not answer: %w", host, err)
		}
		return &Conn{Client: c, Addr: host}, nil
	}
	d, err := m.acquire(ctx, opts)
	if err != nil {
		return nil, err
	}
	root := d.key
	c, err := client.New(ctx, d.d.Addr())
	if err != nil {
		_ = m.release(context.WithoutCancel(ctx), root)
		return nil, fmt.Errorf("connect to buildkitd: %w", err)
	}
	return &Conn{Client: c, Addr: d.d.Addr(), Managed: true, Mirrors: d.d.Mirrors(), daemon: d.d,
		release: func(ctx context.Context) error { return m.release(ctx, root) }}, nil
}

type lease struct {
	d   *Daemon
	key string
}

func (m *Manager) acquire(ctx context.Context, opts DaemonOptions) (lease, error) {
	key, err := filepath.Abs(opts.Root)
	if err != nil {
		return lease{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.daemons == nil {
		m.daemons = map[string]*shared{}
	}
	if s, ok := m.daemons[key]; ok {
		select {
		case <-s.d.Done(): // died: start a new one below
			_ = s.d.Stop(ctx)
			delete(m.daemons, key)
		default:
			s.users++
			return lease{s.d, key}, nil
		}
	}
	// Starting under the lock keeps two steps from racing for the state dir;
	// buildkitd is ready in well under a second.
	d, err := StartDaemon(ctx, opts)
	if err != nil {
		return lease{}, err
	}
	m.daemons[key] = &shared{d: d, users: 1}
	return lease{d, key}, nil
}

func (m *Manager) release(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.daemons[key]
	if !ok {
		return nil
	}
	if s.users--; s.users > 0 {
		return nil
	}
	delete(m.daemons, key)
	return s.d.Stop(ctx)
}

func pingClient(ctx context.Context, c *client.Client) error {
	_, err := c.ListWorkers(ctx)
	return err
}
