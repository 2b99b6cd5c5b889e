package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/birdflock/runner/pkg/registry"
	"golang.org/x/crypto/bcrypt"
)

// Private is a registry that requires HTTP basic auth from every request
// (runner's registry with an htpasswd file), on a loopback port the nodes
// pull from over plain HTTP, as they pull from RegistryAddr: what a job's
// `credentials:` are tested against. Its password is made for the
// cluster; Stop stops it with the cluster.
type Private struct {
	Addr               string // host:port, for the nodes and this machine
	Username, Password string
}

// startPrivate starts the cluster's Private registry, before the nodes'
// containerd (whose configuration names it).
func (c *Cluster) startPrivate(ctx context.Context) error {
	dir := filepath.Join(c.Dir, "private-registry")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	p := Private{Username: "kubetest", Password: hex.EncodeToString(b)}
	hash, err := bcrypt.GenerateFromPassword([]byte(p.Password), bcrypt.MinCost)
	if err != nil {
		return err
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(p.Username+":"+string(hash)+"\n"), 0o600); err != nil {
		return err
	}
	srv, err := registry.Serve(context.Background(), "127.0.0.1:0", filepath.Join(dir, "data"), registry.WithHtpasswd(htpasswd))
	if err != nil {
		return fmt.Errorf("private registry: %w", err)
	}
	c.private = srv
	p.Addr = srv.Addr()
	c.Private = p
	return nil
}
