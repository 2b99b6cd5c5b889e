package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/preview"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/registry/baseimage"
	"github.com/birdflock/runner/pkg/testenv"
)

const (
	student  = "Test Student" // the fork's author: github.actor
	username = "test-student" // what the workflow makes of it
	newBird  = "Runner's Test Warbler"
)

// need fails the test under CI=true when a tool is missing and skips it
// otherwise.
func need(t testing.TB, what, hint string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	testenv.Missing(t, "%s is missing: %s", what, hint)
}

func onPath(bin string) bool { _, err := exec.LookPath(bin); return err == nil }

// TestBirdFlock runs the bird-flock pipeline three times on a scratch fork
// (first publish; no source change; a new bird and 2 replicas) and checks
// the registry, the bot's commits on origin and the app in a browser.
func TestBirdFlock(t *testing.T) {
	needPipeline(t)
	chromium, _ := exec.LookPath("chromium")
	need(t, "chromium", "install Debian's chromium (make deps)", chromium != "")

	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	root := containertest.RepoRoot()
	tmp := t.TempDir()
	runner := buildRunner(t, ctx, root, tmp)
	state := filepath.Join(tmp, "state")
	srv, reg, client := seededRegistry(t, ctx, state)
	defer func() { srv.Close() }()

	fork, origin := makeFork(t, root, filepath.Join(tmp, "demo"))
	sha1 := git(t, fork, "rev-parse", "HEAD")

	// Run 1: everything is new.
	execWorkflow(t, ctx, runner, fork, state, reg, "run1")
	for _, img := range []string{"birds-app-back-end", "birds-app-front-end"} {
		checkTags(t, ctx, client, reg+"/"+username+"/"+img, sha1)
	}
	pub1 := git(t, origin, "rev-parse", "HEAD")
	checkPublish(t, origin, sha1, reg, 1)

	url, stop := startPreview(t, ctx, runner, origin, state)
	checkPage(t, ctx, chromium, url, readBirds(t, filepath.Join(fork, "back-end", "birds.json")), filepath.Join(root, ".runner", "artifacts", "e2e"))
	stop()

	// Run 2: the bot's commit changes only k8s/: nothing new to publish.
	git(t, fork, "pull", "-q", "--ff-only")
	execWorkflow(t, ctx, runner, fork, state, reg, "run2")
	if head := git(t, origin, "rev-parse", "HEAD"); head != pub1 {
		t.Fatalf("run 2 (no source change) moved origin from %s to %s", pub1, head)
	}
	// The job cache (docs/cache.md): nothing changed in either folder, so
	// the four build and test jobs were restored, not run.
	checkCached(t, state, 2, map[string]bool{"check": false, "build-back-end": true, "build-front-end": true,
		"test-back-end": true, "test-front-end": true, "publish": false})

	// Run 3: a new bird and 2 replicas.
	addBird(t, filepath.Join(fork, "back-end", "birds.json"))
	for _, f := range []string{"back-end-deployment.yaml.j2", "front-end-deployment.yaml.j2"} {
		p := filepath.Join(fork, "templates", f)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Replace(b, []byte("replicas: 1"), []byte("replicas: 2"), 1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, fork, "-c", "user.name="+student, "-c", "user.email=student@example.com", "commit", "-qam", "More birds, more replicas")
	git(t, fork, "push", "-q", "origin", "main")
	sha3 := git(t, fork, "rev-parse", "HEAD")
	execWorkflow(t, ctx, runner, fork, state, reg, "run3")
	// Only the back-end changed: its jobs ran, the front-end's were cached
	// and its restored archive was published with the new version.
	checkCached(t, state, 3, map[string]bool{"build-back-end": false, "test-back-end": false,
		"build-front-end": true, "test-front-end": true, "publish": false})
	checkTags(t, ctx, client, reg+"/"+username+"/birds-app-front-end", sha3)
	checkTags(t, ctx, client, reg+"/"+username+"/birds-app-back-end", sha3)
	checkPublish(t, origin, sha3, reg, 2)

	// The new version in a preview, with runner's registry down as after
	// `make demo`: preview serves it again from the state dir.
	srv.Close()
	checkNewBird(t, ctx, origin, state)
}

// needPipeline fails or skips t, as need does, when a part the pipeline
// needs is missing.
func needPipeline(t testing.TB) {
	t.Helper()
	containertest.Require(t, containertest.Root, containertest.Runc, containertest.Busybox, containertest.Buildkitd)
	need(t, "nginx", "install Debian's nginx (make deps)", fileExists("/usr/sbin/nginx"))
	need(t, "git", "install Debian's git (make deps)", onPath("git"))
	need(t, "npm", "install Node.js and npm", onPath("npm"))
	need(t, "go", "the Go toolchain on PATH", onPath("go"))
}

// buildRunner builds runner into dir.
func buildRunner(t testing.TB, ctx context.Context, root, dir string) string {
	t.Helper()
	runner := filepath.Join(dir, "runner")
	gobuild := exec.CommandContext(ctx, "go", "build", "-o", runner, "./cmd/runner")
	gobuild.Dir = root
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("go build runner: %v\n%s", err, out)
	}
	return runner
}

// seededRegistry serves runner's registry for state on a free port, seeded
// with the base images; push-image's `embedded` finds it by its address
// file.
func seededRegistry(t testing.TB, ctx context.Context, state string) (*registry.Server, string, *registry.Client) {
	t.Helper()
	srv, err := registry.Serve(ctx, "127.0.0.1:0", registry.EmbeddedDir(state))
	if err != nil {
		t.Fatal(err)
	}
	client := registry.New(registry.Options{})
	if _, err := baseimage.Seed(ctx, client, srv.Addr(), baseimage.Options{}); err != nil {
		srv.Close()
		t.Fatal(err)
	}
	return srv, srv.Addr(), client
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// git runs git in dir and returns its trimmed output.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// makeFork copies examples/bird-flock (without build output) and the
// workflow into a new repository with a bare origin, as `make demo` does.
func makeFork(t testing.TB, root, dir string) (fork, origin string) {
	t.Helper()
	return makeRepo(t, root, dir, map[string]string{"": filepath.Join(root, "examples", "bird-flock")})
}

// makeRepo makes a repository in dir/bird-flock with a bare origin in
// dir/origin.git from trees (folder in the repository → source folder,
// without build output) and the workflow, committed as the student.
func makeRepo(t testing.TB, root, dir string, trees map[string]string) (fork, origin string) {
	t.Helper()
	fork, origin = filepath.Join(dir, "bird-flock"), filepath.Join(dir, "origin.git")
	for at, src := range trees {
		err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			switch filepath.ToSlash(filepath.Join(at, rel)) {
			case "front-end/node_modules", "front-end/build", "front-end/dist", "back-end/app":
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			dst := filepath.Join(fork, at, rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			return copyFile(p, dst)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := copyFile(filepath.Join(root, "workflows", "build-bird-app.yaml"), filepath.Join(fork, ".github", "workflows", "build-bird-app.yaml")); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "init", "-q", "--bare", "-b", "main", origin)
	git(t, fork, "init", "-q", "-b", "main")
	git(t, fork, "add", "-A")
	git(t, fork, "-c", "user.name="+student, "-c", "user.email=student@example.com", "commit", "-qm", "Start from the bird-flock example")
	git(t, fork, "remote", "add", "origin", origin)
	git(t, fork, "push", "-q", "-u", "origin", "main")
	return fork, origin
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// execWorkflow runs `runner exec build-bird-app` on the fork with the
// extra flags and returns its wall time; its output goes to the test log
// when it fails.
func execWorkflow(t testing.TB, ctx context.Context, runner, fork, state, reg, label string, extra ...string) time.Duration {
	t.Helper()
	start := time.Now()
	args := append([]string{"exec", "build-bird-app", "--repo", fork, "--state", state,
		"--registry-mirror", "docker.io=http://" + reg}, extra...)
	cmd := exec.CommandContext(ctx, runner, args...)
	cmd.Dir = fork
	cmd.Env = append(os.Environ(), "RUNNER_BUILDKITD="+containertest.BuildkitdPath())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: runner exec: %v\n%s", label, err, out)
	}
	took := time.Since(start)
	t.Logf("%s: runner exec took %.1fs", label, took.Seconds())
	return took
}

// checkCached checks which jobs of run id were restored from the job
// cache, from its run record.
func checkCached(t testing.TB, state string, id int, want map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "runs", fmt.Sprint(id), "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Jobs []struct {
			Key    string
			Result string
			Cached *struct{ Run int }
		}
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	for _, j := range rec.Jobs {
		w, ok := want[j.Key]
		if !ok {
			continue
		}
		delete(want, j.Key)
		if j.Result != "success" || (j.Cached != nil) != w {
			t.Errorf("run %d: job %s: %s, cached %v; want cached %v", id, j.Key, j.Result, j.Cached != nil, w)
		}
	}
	for k := range want {
		t.Errorf("run %d has no job %s", id, k)
	}
}

// checkTags: repo has `latest` and sha, one digest for both.
func checkTags(t *testing.T, ctx context.Context, c *registry.Client, repo, sha string) {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("tags of %s: %v", repo, err)
	}
	if !contains(tags, "latest") || !contains(tags, sha) {
		t.Fatalf("%s has tags %v, want latest and %s", repo, tags, sha)
	}
	dl, err := c.Digest(ctx, repo+":latest")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.Digest(ctx, repo+":"+sha)
	if err != nil {
		t.Fatal(err)
	}
	if dl != ds {
		t.Errorf("%s: latest is %s but %s is %s, want one digest", repo, dl, sha[:12], ds)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var imageLine = regexp.MustCompile(`(?m)^\+\s*image:\s*\S+\s*$`)

// checkPublish: origin's HEAD is the bot's "Publish new image" on top of
// the source commit, and every k8s/ image names the source sha.
func checkPublish(t *testing.T, origin, sha, reg string, replicas int) {
	t.Helper()
	if msg := git(t, origin, "log", "-1", "--format=%s"); msg != "Publish new image" {
		t.Fatalf("origin HEAD is %q, want the bot's \"Publish new image\"", msg)
	}
	if parent := git(t, origin, "rev-parse", "HEAD^"); parent != sha {
		t.Errorf("the bot's commit's parent is %s, want the source commit %s", parent, sha)
	}
	m, _, err := preview.LoadRepo(context.Background(), origin, "k8s")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Deployments) != 2 {
		t.Fatalf("origin's k8s/ has %d Deployments, want 2", len(m.Deployments))
	}
	for _, d := range m.Deployments {
		for _, c := range d.Containers {
			want := reg + "/" + username + "/" + d.Name + ":" + sha
			if c.Image != want {
				t.Errorf("%s: image %s, want %s", c.Pos, c.Image, want)
			}
		}
		if d.Replicas != replicas {
			t.Errorf("%s: deployment %s has %d replicas, want %d", d.Pos, d.Name, d.Replicas, replicas)
		}
	}
	diff := git(t, origin, "show", "--format=", "HEAD", "--", "k8s")
	if n := len(imageLine.FindAllString(diff, -1)); n == 0 {
		t.Errorf("the bot's commit changes no image line:\n%s", diff)
	}
}

// startPreview runs `runner preview` on origin and returns its URL and a
// stop function that sends SIGINT and checks that everything went.
func startPreview(t *testing.T, ctx context.Context, runner, origin, state string) (string, func()) {
	t.Helper()
	cmd := exec.CommandContext(ctx, runner, "preview", "--repo", origin, "--addr", "127.0.0.1:0", "--state", state)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	var printed bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			printed.WriteString(sc.Text() + "\n")
			if u, ok := strings.CutPrefix(sc.Text(), "preview at "); ok {
				found <- strings.Fields(u)[0]
			}
		}
		close(found)
	}()
	var url string
	select {
	case url = <-found:
	case <-time.After(2 * time.Minute):
	}
	if url == "" {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		t.Fatalf("runner preview printed no URL\nstdout:\n%s\nstderr:\n%s", printed.String(), stderr.String())
	}
	t.Logf("runner preview:\n%s", printed.String())
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
			t.Errorf("runner preview after SIGINT: %v, want exit code 130\nstderr:\n%s", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "containers removed") {
			t.Errorf("runner preview did not report its cleanup:\n%s", stderr.String())
		}
		if left, _ := filepath.Glob(filepath.Join(state, "preview", "*")); len(left) > 0 {
			t.Errorf("runner preview left %v", left)
		}
		if _, err := http.Get(url); err == nil {
			t.Errorf("%s still answers after SIGINT", url)
		}
	}
	t.Cleanup(stop)
	return url, stop
}

type bird struct {
	Name        string `json:"name"`
	Image       string `json:"image"`
	Description string `json:"description"`
}

func readBirds(t *testing.T, file string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var birds []bird
	if err := json.Unmarshal(b, &birds); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, b := range birds {
		names[b.Name] = true
	}
	return names
}

func addBird(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var birds []bird
	if err := json.Unmarshal(b, &birds); err != nil {
		t.Fatal(err)
	}
	birds = append(birds, bird{Name: newBird, Image: "https://example.com/warbler.jpg", Description: "Sings only in CI."})
	out, _ := json.MarshalIndent(birds, "", "  ")
	if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkPage opens url in headless Chromium: the heading, bird cards whose
// names are in birds.json, and "Add Bird" adding one. It saves a
// screenshot in artifacts.
func checkPage(t *testing.T, ctx context.Context, chromium, url string, names map[string]bool, artifacts string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	bctx, tcancel := context.WithTimeout(bctx, 90*time.Second)
	defer tcancel()

	err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("h1")))
	if err != nil {
		t.Fatalf("chromium on %s: %v", url, err)
	}
	heading, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil {
		t.Fatal(err)
	}
	if heading != "Beautiful Birds" {
		t.Errorf("heading %q, want \"Beautiful Birds\"", heading)
	}
	// The page loads three birds by itself; wait for them (or errors).
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.querySelectorAll('#flock .card, #flock .error').length >= 3 && !document.querySelector('#add').disabled`)); err != nil {
		t.Fatalf("the page shows no birds: %v", err)
	}
	errText, err := chromedp.Run(bctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#flock .error')].map(e => e.textContent).join('; ')`))
	if err != nil {
		t.Fatal(err)
	}
	if errText != "" {
		t.Errorf("the page shows errors: %s", errText)
	}
	initial, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#flock .card figcaption')].map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(initial) == 0 {
		t.Fatal("no bird card on the page")
	}
	for _, n := range initial {
		if !names[n] {
			t.Errorf("card %q is not a bird of birds.json", n)
		}
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS("#add"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](fmt.Sprintf(`document.querySelectorAll('#flock .card').length > %d && !document.querySelector('#add').disabled`, len(initial)))); err != nil {
		t.Fatalf("clicking Add Bird added no card: %v", err)
	}
	after, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#flock .card').length`))
	if err != nil {
		t.Fatal(err)
	}
	if after != len(initial)+1 {
		t.Errorf("%d cards after Add Bird, want %d", after, len(initial)+1)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "bird-flock-preview.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d cards: %s, …)", shot, after, strings.Join(initial, ", "))
}

// checkNewBird previews origin in-process and asks /api until the new bird
// comes, from both back-end replicas in turn.
func checkNewBird(t *testing.T, ctx context.Context, origin, state string) {
	t.Helper()
	var log bytes.Buffer
	p, err := preview.Start(ctx, preview.Options{Repo: origin, Addr: "127.0.0.1:0", StateDir: state, Log: &log})
	if err != nil {
		t.Fatalf("preview: %v\n%s", err, log.String())
	}
	defer func() {
		if err := p.Close(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("preview close: %v", err)
		}
	}()
	backs := 0
	for _, pod := range p.Pods {
		if pod.Deployment.Name == "birds-app-back-end" {
			backs++
		}
	}
	if backs != 2 {
		t.Errorf("%d back-end pods, want 2", backs)
	}
	pods := map[string]bool{}
	seen := false
	// Until the new bird came and both replicas answered (round-robin):
	// the bird may well come in the very first answer.
	for i := 0; i < 400 && !(seen && len(pods) >= 2); i++ {
		resp, err := http.Get(p.URL() + "api")
		if err != nil {
			t.Fatalf("request %d: %v\npreview log:\n%s", i, err, log.String())
		}
		var b bird
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || json.Unmarshal(body, &b) != nil {
			t.Fatalf("GET /api: %s %q", resp.Status, body)
		}
		pods[resp.Header.Get("X-Preview-Pod")] = true
		seen = seen || b.Name == newBird
	}
	if !seen {
		t.Errorf("400 answers of /api and never %q", newBird)
	}
	if !pods["birds-app-back-end-0"] || !pods["birds-app-back-end-1"] {
		t.Errorf("/api was answered by %v, want both back-end replicas", pods)
	}
}
