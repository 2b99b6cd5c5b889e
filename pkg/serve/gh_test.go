package serve_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/serve"
	"github.com/birdflock/runner/pkg/testenv"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// into dir and returns their paths.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "runner serve test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, key
}

// ghServer is runner serve over TLS for Debian's gh, with the requests it
// got.
type ghServer struct {
	host, cert string
	mu         sync.Mutex
	requests   []string // METHOD PATH, and the body of GraphQL queries
}

func (g *ghServer) seen() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.requests, "\n")
}

func startTLS(t *testing.T, files map[string]string) *ghServer {
	t.Helper()
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	repo := birds(t, files)
	cfg := serve.Config{State: filepath.Join(dir, "state"), Token: token, TLSCert: cert, TLSKey: key,
		Repositories: []serve.Repo{{Path: repo.dir, Name: "mona/birds", Branch: "main"}}}
	srv, err := serve.New(cfg, serve.Options{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &ghServer{host: ln.Addr().String(), cert: cert}
	hs := srv.HTTPServer()
	inner := hs.Handler
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line := r.Method + " " + r.URL.RequestURI()
		if strings.HasSuffix(r.URL.Path, "/graphql") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			line += " " + string(body)
		}
		g.mu.Lock()
		g.requests = append(g.requests, line)
		g.mu.Unlock()
		inner.ServeHTTP(w, r)
	})
	go hs.Serve(srv.Listener(ln))
	srv.Start()
	t.Cleanup(func() {
		hs.Close()
		srv.Close(5 * time.Second)
	})
	return g
}

// gh runs Debian's gh against the server as GitHub Enterprise: GH_HOST,
// GH_ENTERPRISE_TOKEN, the certificate trusted through SSL_CERT_FILE.
func (g *ghServer) gh(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("gh", args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GH_CONFIG_DIR=" + filepath.Join(dir, ".gh"),
		"GH_HOST=" + g.host, "GH_ENTERPRISE_TOKEN=" + token, "GH_REPO=" + g.host + "/mona/birds",
		"SSL_CERT_FILE=" + g.cert, "GH_NO_UPDATE_NOTIFIER=1", "GH_PROMPT_DISABLED=1", "NO_COLOR=1", "GH_PAGER=cat", "TERM=dumb"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), fmt.Errorf("gh %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

func needGH(t *testing.T) {
	if _, err := exec.LookPath("gh"); err != nil {
		testenv.Missing(t, "gh is not on the PATH: apt-get install gh")
	}
}

const ghWF = `name: Ship
on:
  workflow_dispatch:
    inputs:
      target:
        required: true
jobs:
  build:
    runs-on: x
    steps:
      - name: Make
        run: |
          mkdir out && echo "built for ${{ inputs.target }}" | tee out/app
          echo "::warning file=app.go,line=3::mind the gap"
          echo "::error title=Sizes differ,file=src/a b.go,line=3,endLine=5,col=1,endColumn=4::sizes differ"
      - uses: actions/upload-artifact@v4
        with:
          name: bundle
          path: out/
  check:
    needs: build
    runs-on: x
    steps:
      - name: Flaky
        run: test -e %s/fixed || { echo flaky-check-broke; exit 1; }
`

// Debian's gh drives runner serve over TLS as GitHub Enterprise: workflow
// list / run -f / disable / enable, run list / view (jobs, artifacts, --log,
// --log-failed, --job) / watch / rerun --failed / download / cancel.
func TestGH(t *testing.T) {
	needGH(t)
	flag := t.TempDir()
	g := startTLS(t, map[string]string{".github/workflows/ship.yaml": fmt.Sprintf(ghWF, flag), ".github/workflows/slow.yaml": slowWF})
	dir := t.TempDir()
	gh := func(args ...string) string {
		t.Helper()
		out, err := g.gh(t, dir, args...)
		if err != nil {
			t.Fatalf("%v\nrequests:\n%s", err, g.seen())
		}
		return out
	}
	has := func(what, out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Fatalf("%s: no %q in:\n%s", what, w, out)
			}
		}
	}
	list := gh("workflow", "list")
	has("workflow list", list, "Ship\tactive\t", "Slow\tactive\t")

	out, err := g.gh(t, dir, "workflow", "run", "ship.yaml", "--ref", "main")
	must(t, err != nil && strings.Contains(out, "target"), "dispatch without the required input: %v %s", err, out)
	// Without --ref gh asks GraphQL (RepositoryInfo) for the default branch.
	gh("workflow", "run", "ship.yaml", "-f", "target=prod")
	has("workflow view --yaml", gh("workflow", "view", "ship.yaml", "--yaml"), "name: Ship", "required: true")
	id := strings.TrimSpace(gh("run", "list", "--workflow", "ship.yaml", "--json", "databaseId", "--jq", ".[0].databaseId"))
	must(t, id != "" && id != "null", "run list: no run id: %q", id)
	out, err = g.gh(t, dir, "run", "watch", id, "--exit-status", "--interval", "1")
	must(t, err != nil, "watch --exit-status of a failing run succeeded:\n%s", out)
	view := gh("run", "view", id)
	has("run view", view, "X main Ship · "+id, "✓ build", "X check", "X Flaky", "ARTIFACTS", "bundle",
		"ANNOTATIONS", "! mind the gap", "build: app.go#3", "X sizes differ", "build: src/a b.go#3")
	// The annotation's every property, as gh reads them.
	buildID := strings.TrimSpace(gh("run", "view", id, "--json", "jobs", "--jq", `.jobs[] | select(.name == "build") | .databaseId`))
	ann := strings.TrimSpace(gh("api", "repos/mona/birds/check-runs/"+buildID+"/annotations", "--jq",
		`.[] | select(.annotation_level == "failure") | [.title, .path, .start_line, .end_line, .start_column, .end_column, .message] | map(tostring) | join("|")`))
	must(t, ann == "Sizes differ|src/a b.go|3|5|1|4|sizes differ", "check-run annotation: %q", ann)
	has("run list", gh("run", "list"), "completed\tfailure\tShip\tShip\tmain\tworkflow_dispatch\t"+id)

	log := gh("run", "view", id, "--log")
	has("run view --log", log, "build\tMake\t", "Z built for prod", "check\tFlaky\t", "Z flaky-check-broke")
	failed := gh("run", "view", id, "--log-failed")
	has("run view --log-failed", failed, "check\tFlaky\t", "flaky-check-broke")
	must(t, !strings.Contains(failed, "built for prod"), "--log-failed shows a step that passed:\n%s", failed)
	jobID := strings.TrimSpace(gh("run", "view", id, "--json", "jobs", "--jq", `.jobs[] | select(.name == "build") | .databaseId`))
	jobLog := gh("run", "view", "--job", jobID, "--log")
	has("run view --job --log", jobLog, "built for prod")
	must(t, !strings.Contains(jobLog, "flaky-check-broke"), "--job %s --log shows another job:\n%s", jobID, jobLog)

	dl := filepath.Join(dir, "dl")
	gh("run", "download", id, "-D", dl)
	var app []byte
	filepath.WalkDir(dl, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "app" {
			app, _ = os.ReadFile(p)
		}
		return nil
	})
	must(t, string(app) == "built for prod\n", "run download: app is %q", app)

	os.WriteFile(filepath.Join(flag, "fixed"), nil, 0o644)
	gh("run", "rerun", id, "--failed")
	gh("run", "watch", id, "--exit-status", "--interval", "1")
	attempt := strings.TrimSpace(gh("api", "repos/mona/birds/actions/runs/"+id, "--jq", ".run_attempt"))
	must(t, attempt == "2", "after rerun --failed: attempt %s, want 2", attempt)
	has("run view after the re-run", gh("run", "view", id), "✓ main Ship · "+id)
	check := strings.TrimSpace(gh("run", "view", id, "--json", "jobs", "--jq", `.jobs[] | select(.name == "check") | .databaseId`))
	gh("run", "rerun", "--job", check)
	gh("run", "watch", id, "--exit-status", "--interval", "1")
	attempt = strings.TrimSpace(gh("api", "repos/mona/birds/actions/runs/"+id, "--jq", ".run_attempt"))
	must(t, attempt == "3", "after rerun --job: attempt %s, want 3", attempt)
	branch := gh("api", "graphql", "-f", `query={ repository(owner: "mona", name: "birds") { defaultBranchRef { name } } }`, "--jq", ".data.repository.defaultBranchRef.name")
	must(t, strings.TrimSpace(branch) == "main", "GraphQL default branch: %q", branch)
	out, err = g.gh(t, dir, "api", "graphql", "-f", `query={ repository(owner: "mona", name: "nope") { name } }`)
	must(t, err != nil && strings.Contains(out, "Could not resolve to a Repository with the name 'mona/nope'."), "GraphQL unknown repository: %v %s", err, out)

	gh("workflow", "disable", "ship.yaml")
	has("workflow list --all", gh("workflow", "list", "--all"), "Ship\tdisabled_manually\t")
	must(t, !strings.Contains(gh("workflow", "list"), "Ship"), "a disabled workflow in workflow list")
	gh("workflow", "enable", "ship.yaml")
	has("workflow list", gh("workflow", "list"), "Ship\tactive\t")

	gh("workflow", "run", "slow.yaml", "--ref", "main")
	slow := strings.TrimSpace(gh("run", "list", "--workflow", "slow.yaml", "--json", "databaseId", "--jq", ".[0].databaseId"))
	testenv.Eventually(t, 10*time.Second, func() bool {
		return strings.TrimSpace(gh("run", "view", slow, "--json", "status", "--jq", ".status")) == "in_progress"
	}, "run %s never started", slow)
	gh("run", "cancel", slow)
	testenv.Eventually(t, 20*time.Second, func() bool {
		return strings.TrimSpace(gh("run", "view", slow, "--json", "conclusion", "--jq", ".conclusion")) == "cancelled"
	}, "run %s not cancelled", slow)
}

// tls-cert without tls-key, or files that are no certificate, are refused
// before anything is written.
func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	cfgFile := filepath.Join(dir, "runner.yaml")
	os.WriteFile(cfgFile, []byte("tls-cert: cert.pem\n"), 0o644)
	_, err := serve.LoadConfig(cfgFile)
	must(t, err != nil && strings.Contains(err.Error(), "tls-cert and tls-key go together") && strings.Contains(err.Error(), cfgFile), "tls-cert alone: %v", err)
	os.WriteFile(cfgFile, []byte("tls-cert: cert.pem\ntls-key: key.pem\n"), 0o644)
	cfg, err := serve.LoadConfig(cfgFile)
	must(t, err == nil && cfg.TLSCert == cert && cfg.TLSKey == key, "relative tls files: %+v %v", cfg, err)
	state := filepath.Join(dir, "state")
	_, err = serve.New(serve.Config{State: state, Token: token, TLSCert: cert, TLSKey: cfgFile}, serve.Options{Log: io.Discard})
	must(t, err != nil && strings.Contains(err.Error(), "tls-key "+cfgFile), "a key that is no key: %v", err)
	_, serr := os.Stat(state)
	must(t, os.IsNotExist(serr), "state dir written before the TLS error: %v", serr)
}

// GraphQL reads need the token like every other read.
func TestGraphQLNeedsToken(t *testing.T) {
	s := start(t, serve.Config{}, birds(t, nil), 0)
	q := map[string]any{"query": `{ repository(owner: "mona", name: "birds") { defaultBranchRef { name } } }`}
	for _, tok := range []string{"", "wrong"} {
		resp, body := do(t, "POST", s.URL+"/api/graphql", tok, q)
		must(t, resp.StatusCode == http.StatusUnauthorized && !strings.Contains(string(body), "main"), "GraphQL with token %q: %s %s", tok, resp.Status, body)
	}
	resp, body := do(t, "POST", s.URL+"/api/graphql", token, q)
	must(t, resp.StatusCode == http.StatusOK && string(body) == `{"data":{"repository":{"defaultBranchRef":{"name":"main"}}}}`, "GraphQL with the token: %s %s", resp.Status, body)
}

// `runner serve` with tls-cert and tls-key in its config speaks HTTPS
// only, and says so.
func TestServeCmdTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	cfgFile := filepath.Join(dir, "runner.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("state: %s\ntls-cert: %s\ntls-key: %s\n", filepath.Join(dir, "state"), cert, key)), 0o644)
	url, lines := serveCmd(t, []string{"RUNNER_TOKEN=" + token}, "--config", cfgFile)
	addr := strings.TrimPrefix(url, "http://")
	must(t, strings.Contains(strings.Join(lines, "\n"), "listening on https://"+addr), "startup lines:\n%s", strings.Join(lines, "\n"))
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/healthz")
	must(t, err == nil && resp.StatusCode == 200, "GET https://%s/healthz: %v", addr, err)
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/healthz")
	if err == nil {
		must(t, resp.StatusCode == http.StatusBadRequest, "plain HTTP to the TLS port: %s", resp.Status)
		resp.Body.Close()
	}
}
