package gittest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/birdflock/runner/pkg/testenv"
)

// SSHServer serves the repositories under a root over ssh on 127.0.0.1,
// running git's upload-pack and receive-pack for clients that present the
// authorized key.
type SSHServer struct {
	Addr       string // host:port
	KnownHosts string // a known_hosts line for the server's key
}

// NewKey returns a fresh ed25519 private key as OpenSSH PEM text and its
// public key.
func NewKey(t testing.TB) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), sp
}

// ServeSSH starts the server; it stops when the test ends. Like ServeHTTP it
// needs the git binary (as the server only).
func ServeSSH(t testing.TB, root string, authorized ssh.PublicKey) *SSHServer {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		testenv.Missing(t, "git missing (%v): install Debian package git", err)
	}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == string(authorized.Marshal()) {
			return nil, nil
		}
		return nil, os.ErrPermission
	}}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveSSHConn(c, cfg, gitPath, root)
			}()
		}
	}()
	addr := ln.Addr().String()
	return &SSHServer{Addr: addr, KnownHosts: knownhosts.Line([]string{addr}, signer.PublicKey())}
}

func serveSSHConn(c net.Conn, cfg *ssh.ServerConfig, gitPath, root string) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			defer ch.Close()
			for req := range chReqs {
				if req.Type != "exec" || len(req.Payload) < 4 {
					_ = req.Reply(false, nil)
					continue
				}
				_ = req.Reply(true, nil)
				cmdline := string(req.Payload[4:])
				name, arg, _ := strings.Cut(cmdline, " ")
				repo := filepath.Join(root, filepath.Clean("/"+strings.Trim(arg, "'\"")))
				status := uint32(1)
				if name == "git-upload-pack" || name == "git-receive-pack" {
					cmd := exec.Command(gitPath, strings.TrimPrefix(name, "git-"), repo)
					cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
					if cmd.Run() == nil {
						status = 0
					}
				}
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], status)
				_, _ = ch.SendRequest("exit-status", false, b[:])
				return
			}
		}()
	}
}
