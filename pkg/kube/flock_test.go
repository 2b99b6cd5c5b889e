package kube_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/birdflock/runner/pkg/buildkit"
	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/registry/baseimage"
	"github.com/birdflock/runner/pkg/testenv"
)

var (
	toolchainOnce sync.Once
	toolchainRef  string
	toolchainErr  error
)

// toolchainImage is runner's pod image with this machine's Go, node and
// npm, and the bird-flock example's Go and npm caches
// (kubetest.ToolchainImage; its layers are kept in .cache/kube/toolchain),
// pushed to the cluster's registry once.
func toolchainImage(t testing.TB, c *kubetest.Cluster) string {
	t.Helper()
	runnerImage(t, c) // builds runnerBin
	toolchainOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		base, err := baseimage.Runner(ctx, baseimage.RunnerOptions{Binary: runnerBin})
		if err != nil {
			toolchainErr = err
			return
		}
		root := ct.RepoRoot()
		img, err := kubetest.ToolchainImage(ctx, base, kubetest.ToolchainOptions{
			CacheDir:    filepath.Join(root, ".cache", "kube", "toolchain"),
			GoModules:   []string{filepath.Join(root, "examples", "bird-flock", "back-end")},
			NpmProjects: []string{filepath.Join(root, "examples", "bird-flock", "front-end")},
			Log:         t.Logf,
		})
		if err != nil {
			toolchainErr = err
			return
		}
		toolchainRef = ct.Push(t, img, c.RegistryAddr, "runner/toolchain", "test")
	})
	if m := (*kubetest.MissingError)(nil); toolchainErr != nil && errors.As(toolchainErr, &m) {
		testenv.Missing(t, "the toolchain image: %v", toolchainErr)
	}
	if toolchainErr != nil {
		t.Fatal(toolchainErr)
	}
	return toolchainRef
}

// buildkitForPods starts a buildkitd on this machine whose Docker Hub
// pulls go to the cluster's registry (which gets the nginx stand-in beside
// its alpine), and returns its address for pods (BUILDKIT_HOST).
func buildkitForPods(t testing.TB, c *kubetest.Cluster) string {
	t.Helper()
	ct.Require(t, ct.Root, ct.Runc, ct.Buildkitd)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nginx, err := baseimage.Nginx(ctx, baseimage.Options{})
	if err != nil {
		testenv.Missing(t, "the nginx stand-in: %v", err)
	}
	ct.Push(t, nginx, c.RegistryAddr, "library/nginx", "stable-alpine")
	mirrors, err := registry.ParseMirrors("docker.io=http://" + c.RegistryAddr)
	if err != nil {
		t.Fatal(err)
	}
	d, err := buildkit.StartDaemon(ctx, buildkit.DaemonOptions{Root: t.TempDir(), Binary: ct.BuildkitdPath(), Mirrors: mirrors})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop(context.Background()) })
	return "tcp://" + forwardUnix(t, c.GatewayIP, strings.TrimPrefix(d.Addr(), "unix://"))
}

// birdFork is a scratch fork of examples/bird-flock as scripts/demo.sh
// makes it (the example's files and the workflow, one commit), whose
// origin is a bare repository served over git's smart HTTP (git
// http-backend) behind basic auth with token, on an address pods reach.
type birdFork struct {
	Dir, Origin string // the fork (what serve runs), the bare origin
	URL         string // origin's URL, as the fork and the pods know it
	Head        string // the fork's commit
}

func newBirdFork(t testing.TB, c *kubetest.Cluster, workflow, token string) birdFork {
	t.Helper()
	gittest.GitBinary(t)
	dir := t.TempDir()
	f := birdFork{Dir: filepath.Join(dir, "bird-flock"), Origin: filepath.Join(dir, "git", "origin.git")}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=Demo Student", "GIT_AUTHOR_EMAIL=student@example.com",
			"GIT_COMMITTER_NAME=Demo Student", "GIT_COMMITTER_EMAIL=student@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main", f.Dir)
	src := filepath.Join(ct.RepoRoot(), "examples", "bird-flock")
	copyExample(t, src, f.Dir)
	wf := filepath.Join(f.Dir, ".github", "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wf, "build-bird-app.yaml"), []byte(workflow), 0o644); err != nil {
		t.Fatal(err)
	}
	git("-C", f.Dir, "add", "-A")
	git("-C", f.Dir, "commit", "-qm", "Start from the bird-flock example")
	f.Head = git("-C", f.Dir, "rev-parse", "HEAD")
	git("clone", "-q", "--bare", f.Dir, f.Origin)
	srv := gittest.ServeHTTP(t, filepath.Dir(f.Origin), gitrepo.TokenUser, token)
	addr, err := c.ExposeToPods(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	f.URL = "http://" + addr + "/origin.git"
	git("-C", f.Dir, "remote", "add", "origin", f.URL)
	git("-C", f.Dir, "update-ref", "refs/remotes/origin/main", f.Head)
	return f
}

// copyExample copies the example src into dst as scripts/demo.sh does:
// without what a local build left in it (node_modules, build, the
// back-end's binary).
func copyExample(t testing.TB, src, dst string) {
	t.Helper()
	cp := exec.Command("sh", "-c", `tar -C "$1" --exclude=node_modules --exclude=build --exclude=back-end/app -cf - . | tar -C "$2" -xf -`, "sh", src, dst)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", src, err, out)
	}
}

// flockWorkflow is workflows/build-bird-app.yaml, as scripts/demo.sh runs
// it: its test-image jobs run each image as a pod of its own.
func flockWorkflow(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ct.RepoRoot(), "workflows", "build-bird-app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// flockJobs are the pipeline's jobs.
func flockJobs() []string {
	jobs := []string{"check", "build-back-end", "build-front-end", "test-back-end", "test-front-end", "publish"}
	slices.Sort(jobs)
	return jobs
}

// kubeExecutor is the executor section of runner serve for the
// pipeline on the cluster: pods of the toolchain image, offline (GOPROXY=off,
// npm offline), and the BuildKit and registry addresses pods reach.
func kubeExecutor(c *kubetest.Cluster, ns, image, buildkitHost string) string {
	return fmt.Sprintf(`executor:
  kind: kubernetes
  kubeconfig: %s
  namespace: %s
  image: %s
  buildkit-host: %s
  registry: http://%s
  grace: 5s
  templates:
    ubuntu-latest:
      env:
        - {name: GOPROXY, value: "off"}
        - {name: GOFLAGS, value: -mod=mod}
        - {name: npm_config_offline, value: "true"}
`, c.Kubeconfig, ns, image, buildkitHost, c.PodRegistryAddr)
}

// flockServe is runner serve for the fork with the executor section
// given ("" for the local one) and GIT_TOKEN as a secret; env is added
// to the service's environment.
func flockServe(t testing.TB, f birdFork, token, executor string, env ...string) *server {
	t.Helper()
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.WriteFile(secrets, []byte("GIT_TOKEN="+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	config := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`listen: %s
state: %s
secrets-file: %s
capacity: 2
repositories:
  - path: %s
    name: local/bird-flock
`, addr, filepath.Join(dir, "state"), secrets, f.Dir)+executor), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServe(t, config, "http://"+addr, env...)
}

// get returns the body of an authenticated GET.
func (s *server) get(path string) string {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

type flockJob struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Conclusion string `json:"conclusion"`
	RunnerName string `json:"runner_name"`
	Cached     *struct {
		Run int `json:"run"`
	} `json:"cached"`
}

// dispatchAndWait dispatches the pipeline and waits for its run to end;
// it returns the run's conclusion, its jobs and their logs.
func dispatchAndWait(t testing.TB, s *server, wait time.Duration) (string, []flockJob, map[string]string) {
	c, j, l, _ := dispatchTimed(t, s, wait)
	return c, j, l
}

// dispatchTimed is dispatchAndWait that also returns the time from the
// dispatch until the run was seen completed.
func dispatchTimed(t testing.TB, s *server, wait time.Duration) (string, []flockJob, map[string]string, time.Duration) {
	t.Helper()
	var runs struct {
		Runs []struct {
			ID int64 `json:"id"`
		} `json:"workflow_runs"`
	}
	s.call("GET", "/repos/local/bird-flock/actions/runs", nil, &runs)
	before := len(runs.Runs)
	t0 := time.Now()
	if code := s.call("POST", "/repos/local/bird-flock/actions/workflows/build-bird-app.yaml/dispatches",
		map[string]any{"ref": "main", "inputs": map[string]any{"username": "Flock Tester"}}, nil); code != 204 {
		t.Fatalf("dispatch: %d\n%s", code, s.log)
	}
	var id int64
	var run struct {
		Status     string `json:"status"`
		Conclusion string `json:"conclusion"`
	}
	var wall time.Duration
	for deadline := time.Now().Add(wait); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not end within %s: %+v\n%s", wait, run, s.log)
		}
		if id == 0 {
			s.call("GET", "/repos/local/bird-flock/actions/runs", nil, &runs)
			if len(runs.Runs) > before {
				id = runs.Runs[0].ID
			}
			continue
		}
		s.call("GET", fmt.Sprintf("/repos/local/bird-flock/actions/runs/%d", id), nil, &run)
		if run.Status == "completed" {
			wall = time.Since(t0)
			break
		}
	}
	var jobs struct {
		Jobs []flockJob `json:"jobs"`
	}
	s.call("GET", fmt.Sprintf("/repos/local/bird-flock/actions/runs/%d/jobs", id), nil, &jobs)
	logs := map[string]string{}
	for _, j := range jobs.Jobs {
		logs[j.Name] = s.get(fmt.Sprintf("/repos/local/bird-flock/actions/jobs/%d/logs", j.ID))
	}
	return run.Conclusion, jobs.Jobs, logs, wall
}

// tags lists the tags of repo in the registry at addr.
func tags(t testing.TB, addr, repo string) []string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v2/" + repo + "/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Tags []string `json:"tags"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&list) != nil {
		return nil
	}
	return list.Tags
}

// TestBirdFlockOnKubernetes: the bird-flock pipeline (the flagship,
// workflows/build-bird-app.yaml) dispatched to runner serve with the
// Kubernetes executor on the two-node cluster, from a scratch fork whose
// origin is served over git's smart HTTP behind a token. Every job runs in
// a pod of its own (its name in the job's log and in runner_name), the
// build jobs build Go and the npm front-end offline in the toolchain
// image and their images on BuildKit, publish pushes both images with
// latest and the version to `embedded` (the executor's registry, as pods
// reach it) and the bot's commit of the re-rendered k8s/ reaches origin;
// the token shows in no log, and no pod is left.
func TestBirdFlockOnKubernetes(t *testing.T) {
	c := kubetest.Shared(t)
	image := toolchainImage(t, c)
	bk := buildkitForPods(t, c)
	ns := namespace(t, c)
	prepull(t, c, ns, image)
	const token = "ghs_flockOriginToken0123456789"
	f := newBirdFork(t, c, flockWorkflow(t), token)
	s := flockServe(t, f, token, kubeExecutor(c, ns, image, bk))

	conclusion, jobs, logs := dispatchAndWait(t, s, 20*time.Minute)
	all := strings.Join(slices.Collect(maps.Values(logs)), "\n")
	if conclusion != "success" {
		t.Fatalf("the run: %s\n%s\nserve:\n%s", conclusion, all, s.log)
	}
	var names []string
	pods := map[string]string{}
	for _, j := range jobs {
		names = append(names, j.Name)
		if j.Conclusion != "success" || !strings.HasPrefix(j.RunnerName, "runner-"+j.Name+"-") {
			t.Errorf("job %s: %s in %q, want success in a pod of its own", j.Name, j.Conclusion, j.RunnerName)
		}
		if !strings.Contains(logs[j.Name], "Running in pod "+ns+"/"+j.RunnerName+" on node ") {
			t.Errorf("job %s: its log does not name its pod %s:\n%s", j.Name, j.RunnerName, logs[j.Name])
		}
		if i := strings.Index(logs[j.Name], "Running in pod "); i >= 0 {
			t.Logf("%s: %s", j.Name, strings.SplitN(logs[j.Name][i:], "\n", 2)[0])
		}
		if other, ok := pods[j.RunnerName]; ok {
			t.Errorf("jobs %s and %s share the pod %s", other, j.Name, j.RunnerName)
		}
		pods[j.RunnerName] = j.Name
	}
	slices.Sort(names)
	if !slices.Equal(names, flockJobs()) {
		t.Errorf("jobs %v, want %v", names, flockJobs())
	}
	if strings.Contains(all, token) || strings.Contains(s.log.String(), token) {
		t.Errorf("the git token is in a log")
	}
	// The builds ran in their pods, offline (GOPROXY=off, npm offline).
	for job, want := range map[string]string{"build-back-end": "Build the binary", "build-front-end": "vite v"} {
		if !strings.Contains(logs[job], want) {
			t.Errorf("job %s did not run %s:\n%s", job, want, logs[job])
		}
	}

	// The test jobs ran their images as pods of their own, pulled by the
	// nodes through the executor's registry, and probed them over the pod
	// network.
	for job, want := range map[string]string{"test-back-end": "200 OK", "test-front-end": "200 OK"} {
		l := logs[job]
		if !strings.Contains(l, "Running image "+c.PodRegistryAddr+"/runner/test-images@sha256:") || !strings.Contains(l, want) || !strings.Contains(l, "removed") {
			t.Errorf("job %s did not run its image as a pod and get %s from it:\n%s", job, want, l)
		}
		if i := strings.Index(l, "Running image "); i >= 0 {
			t.Logf("%s: %s", job, strings.SplitN(l[i:], "\n", 2)[0])
		}
	}

	// Both images, with latest and the version (the fork's commit), in
	// the registry the pods pushed to.
	for _, name := range []string{"birds-app-back-end", "birds-app-front-end"} {
		got := tags(t, c.RegistryAddr, "flock-tester/"+name)
		if !slices.Contains(got, "latest") || !slices.Contains(got, f.Head) {
			t.Errorf("%s: tags %v, want latest and %s", name, got, f.Head)
		}
	}

	// The bot's commit on origin: k8s/ only, the images as pods and nodes
	// name them.
	out, err := exec.Command("git", "--git-dir", f.Origin, "log", "-1", "--format=%H%n%an%n%s", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	head := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(head) != 3 || head[0] == f.Head || head[1] != gitrepo.BotName || head[2] != "Publish new image" {
		t.Fatalf("origin's main: %q, want the bot's commit after %s", head, f.Head)
	}
	files, _ := exec.Command("git", "--git-dir", f.Origin, "diff", "--name-only", f.Head, "main").Output()
	for _, p := range strings.Fields(string(files)) {
		if !strings.HasPrefix(p, "k8s/") {
			t.Errorf("the bot's commit changes %s, outside k8s/", p)
		}
	}
	dep, _ := exec.Command("git", "--git-dir", f.Origin, "show", "main:k8s/back-end-deployment.yaml").Output()
	if want := "image: " + c.PodRegistryAddr + "/flock-tester/birds-app-back-end:" + f.Head; !strings.Contains(string(dep), want) {
		t.Errorf("origin's k8s/back-end-deployment.yaml has no %q:\n%s", want, dep)
	}
	if left := podsLeft(t, c, ns); len(left) > 0 {
		t.Errorf("pods left after the run: %v", left)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("publish's log:\n%s", logs["publish"])
	}

	// Warm: the same commit again. The build (and test) jobs come from
	// the job cache with their artifacts, as locally (no pod); check and
	// publish run in pods; the manifests are already on origin, so no
	// new commit.
	conclusion, jobs, logs = dispatchAndWait(t, s, 10*time.Minute)
	if conclusion != "success" {
		t.Fatalf("the second run: %s\n%s", conclusion, strings.Join(slices.Collect(maps.Values(logs)), "\n"))
	}
	for _, j := range jobs {
		inPod := strings.HasPrefix(j.RunnerName, "runner-"+j.Name+"-")
		if cacheable := strings.HasPrefix(j.Name, "build-") || strings.HasPrefix(j.Name, "test-"); cacheable == inPod || cacheable != (j.Cached != nil) {
			t.Errorf("second run, job %s: runner %q, cached %v; want the build and test jobs from the cache, the others in pods", j.Name, j.RunnerName, j.Cached)
		}
	}
	if again, _ := exec.Command("git", "--git-dir", f.Origin, "rev-parse", "main").Output(); strings.TrimSpace(string(again)) != head[0] {
		t.Errorf("the second run moved origin's main from %s to %s", head[0], again)
	}
	if left := podsLeft(t, c, ns); len(left) > 0 {
		t.Errorf("pods left after the second run: %v", left)
	}
}

// podsLeft lists ns's pods, waiting a little for those being deleted.
func podsLeft(t *testing.T, c *kubetest.Cluster, ns string) []string {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if left = pods(t, c, ns); len(left) == 0 {
			break
		}
	}
	return left
}

// prepull pulls image onto every node (a pod pinned to each that exits
// at once), as a cluster's nodes keep their CI image: the figures are
// those of an image present, and the scheduler, with the image on every
// node, spreads the jobs.
func prepull(t testing.TB, c *kubetest.Cluster, ns, image string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pc := c.Client.CoreV1().Pods(ns)
	var names []string
	for _, n := range c.Nodes {
		p, err := pc.Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "prepull-"},
			Spec: corev1.PodSpec{NodeName: n.Name, RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "pull", Image: image, Command: []string{"/bin/true"}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, p.Name)
	}
	for _, name := range names {
		for {
			p, err := pc.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("pre-pull %s: %v", image, err)
			}
			if p.Status.Phase == corev1.PodSucceeded {
				break
			}
			if p.Status.Phase == corev1.PodFailed {
				t.Fatalf("pre-pull %s on %s failed: %+v", image, p.Spec.NodeName, p.Status)
			}
			time.Sleep(250 * time.Millisecond)
		}
		zero := int64(0)
		if err := pc.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		list, err := pc.List(ctx, metav1.ListOptions{})
		if err == nil && len(list.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pre-pull pods not gone: %v", err)
		}
	}
}
