package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func writeHtpasswd(t *testing.T, user, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(p, []byte("# users\n"+user+":"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHtpasswdAuth(t *testing.T) {
	const user, password = "ci", "s3cret-pw"
	dir := t.TempDir()
	s, err := Serve(context.Background(), "127.0.0.1:0", dir, WithHtpasswd(writeHtpasswd(t, user, password)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	base := "http://" + s.Addr()

	// Anonymous requests, reads included, are refused with a challenge.
	for _, p := range []string{"/v2/", "/v2/_catalog", "/v2/owner/app/tags/list", "/v2/owner/app/manifests/latest"} {
		r := doRaw(t, "GET", base+p, "", nil)
		if r.status != http.StatusUnauthorized || !contains(r.codes, "UNAUTHORIZED") || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("anonymous GET %s: %d %v %q", p, r.status, r.codes, r.header.Get("WWW-Authenticate"))
		}
	}
	// The server still answers pings with its ids (discovery works).
	if a, id, ok := servedBy(dir); !ok || a != s.Addr() || !ping(ctx, a, id, 2*time.Second) {
		t.Error("an auth-protected server is not found through its address file")
	}

	a := randomArtifact(t)
	if _, err := fastClient(Options{}).Push(ctx, a, s.Addr()+"/owner/app", []string{"latest"}); err == nil {
		t.Fatal("push without credentials accepted")
	}
	bad := Options{Credentials: []Credential{{Registry: s.Addr(), Username: user, Password: "wrong"}}}
	if _, err := fastClient(bad).Push(ctx, a, s.Addr()+"/owner/app", []string{"latest"}); err == nil {
		t.Fatal("push with a wrong password accepted")
	} else if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the password shows in the error: %v", err)
	}
	good := fastClient(Options{Credentials: []Credential{{Registry: s.Addr(), Username: user, Password: password}}})
	p, err := good.Push(ctx, a, s.Addr()+"/owner/app", []string{"latest"})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := good.Digest(ctx, s.Addr()+"/owner/app:latest"); err != nil || d != p.Digest {
		t.Errorf("pull with credentials: %s, %v", d, err)
	}
}

func TestHtpasswdFileIsChecked(t *testing.T) {
	parent := t.TempDir()
	bad := filepath.Join(parent, "bad")
	os.WriteFile(bad, []byte("ci:$apr1$abc$def\n"), 0o600)
	empty := filepath.Join(parent, "empty")
	os.WriteFile(empty, []byte("# nobody\n"), 0o600)
	cases := map[string]string{
		filepath.Join(parent, "missing"): "no such file",
		bad:                              bad + ":1: the password of ci is not a bcrypt hash",
		empty:                            "has no user",
	}
	for file, want := range cases {
		dir := filepath.Join(parent, "reg")
		_, err := Serve(context.Background(), "127.0.0.1:0", dir, WithHtpasswd(file))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", file, err, want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s: registry directory created for a refused server", file)
		}
		if _, err := os.Stat(filepath.Join(parent, "missing")); !os.IsNotExist(err) {
			t.Fatal("a missing htpasswd file was created")
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "runner test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	d := t.TempDir()
	certFile, keyFile = filepath.Join(d, "cert.pem"), filepath.Join(d, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Serve(ctx, "127.0.0.1:0", dir, WithTLS(certFile, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	c := fastClient(Options{Transport: tr})
	p, err := c.Push(ctx, randomArtifact(t), s.Addr()+"/owner/app", []string{"latest"})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := c.Digest(ctx, s.Addr()+"/owner/app:latest"); err != nil || d != p.Digest {
		t.Errorf("over TLS: %s, %v", d, err)
	}
	// Plain HTTP gets nothing from it; discovery still finds it.
	resp, err := http.Get("http://" + s.Addr() + "/v2/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS server: %d", resp.StatusCode)
		}
	}
	if a, id, ok := servedBy(dir); !ok || !ping(ctx, a, id, 2*time.Second) {
		t.Error("a TLS server is not found through its address file")
	}

	for _, o := range []ServerOption{WithTLS(certFile, ""), WithTLS(keyFile, certFile)} {
		d := filepath.Join(t.TempDir(), "reg")
		if _, err := Serve(ctx, "127.0.0.1:0", d, o); err == nil {
			t.Error("a certificate without its key accepted")
		}
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Error("registry directory created for a refused server")
		}
	}
}
