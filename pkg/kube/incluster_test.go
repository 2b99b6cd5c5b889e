package kube_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/birdflock/runner/pkg/buildkit"
	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
	"github.com/birdflock/runner/pkg/testenv"
)

// deployRegistry is the registry deploy/kubernetes names its images in;
// a user points them at the registry the nodes pull from (docs/kubernetes.md).
const deployRegistry = "registry.runner.svc:5000/runner/"

// manifestsDir is deploy/kubernetes.
const manifestsDir = "../../deploy/kubernetes"

// deployImages builds the images deploy/kubernetes runs with runner's own
// build-image, as a user would (docs/kubernetes.md): runner's image from
// deploy/kubernetes/image/Containerfile and this tree's static binary,
// and a buildkitd image (bin/buildkitd and Debian's runc with its
// libraries, a stand-in for moby/buildkit); both pushed to the cluster's
// registry as runner/runner:latest and runner/buildkitd:latest.
func deployImages(t *testing.T, ctx context.Context, c *kubetest.Cluster) {
	t.Helper()
	runnerImage(t, c) // builds runnerBin
	src := t.TempDir()
	copyFile(t, filepath.Join(manifestsDir, "image", "Containerfile"), filepath.Join(src, "runner", "Containerfile"), 0o644)
	copyFile(t, runnerBin, filepath.Join(src, "runner", "runner"), 0o755)
	rootfs := filepath.Join(src, "buildkitd", "rootfs")
	copyFile(t, ct.BuildkitdPath(), filepath.Join(rootfs, "usr/local/bin/buildkitd"), 0o755)
	runc := ct.RuncPath()
	copyFile(t, runc, filepath.Join(rootfs, "usr/sbin/runc"), 0o755)
	out, err := exec.Command("ldd", runc).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", runc, err)
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			copyFile(t, f, filepath.Join(rootfs, f), 0o755)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "buildkitd", "Containerfile"), []byte(
		"FROM alpine\nCOPY rootfs/ /\nENTRYPOINT [\"/usr/local/bin/buildkitd\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mirrors, err := registry.ParseMirrors("docker.io=http://" + c.RegistryAddr)
	if err != nil {
		t.Fatal(err)
	}
	d, err := buildkit.StartDaemon(ctx, buildkit.DaemonOptions{Root: t.TempDir(), Binary: ct.BuildkitdPath(), Mirrors: mirrors})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop(context.Background())
	res := runWorkflow(t, ctx, fmt.Sprintf(`on: push
jobs:
  images:
    runs-on: ubuntu-latest
    steps:
      - run: cp -r %s/. .
      - uses: build-image
        with:
          context: runner
          file: runner/Containerfile
          image: runner/runner
          tags: latest
          push: true
          registry: http://%s
      - uses: build-image
        with:
          context: buildkitd
          file: buildkitd/Containerfile
          image: runner/buildkitd
          tags: latest
          push: true
          registry: http://%s
`, src, c.RegistryAddr, c.RegistryAddr), run.Options{Builtins: steps.Default(), Settings: steps.Settings{BuildkitHost: d.Addr()}})
	if res.Conclusion != "success" {
		t.Fatalf("building the deploy images with build-image: %s\n%s", res.Conclusion, jobLog(t, res))
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// deployObjects reads deploy/kubernetes/*.yaml in order with the images
// pointed at reg (the documented sed), and edit applied to each file's
// text.
func deployObjects(t *testing.T, reg string, edit func(file, text string) string) []*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(manifestsDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var objs []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "image: "+deployRegistry, "image: "+reg+"/runner/")
		text = edit(filepath.Base(f), text)
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(text), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if m == nil {
				continue
			}
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs
}

// applier applies objects with server-side apply, as
// `kubectl apply --server-side` does.
type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(t *testing.T, c *kubetest.Cluster) *applier {
	t.Helper()
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery()))}
}

func (a *applier) resource(t *testing.T, o *unstructured.Unstructured) dynamic.ResourceInterface {
	t.Helper()
	gvk := o.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("%s %s: %v", gvk.Kind, o.GetName(), err)
	}
	if o.GetNamespace() != "" {
		return a.dyn.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	return a.dyn.Resource(m.Resource)
}

func (a *applier) apply(t *testing.T, ctx context.Context, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if _, err := a.resource(t, o).Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "runner-test", Force: true}); err != nil {
			t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// serveRepo serves the bare repositories under root over git's smart
// HTTP on the gateway, where pods reach it, without authentication.
func serveRepo(t *testing.T, ip net.IP, root string) string {
	t.Helper()
	git := gittest.GitBinary(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: &cgi.Handler{Path: gittest.HTTPBackend, Env: []string{
		"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "PATH=" + filepath.Dir(git) + ":/usr/bin:/bin",
	}}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// hostPathVolume is a static PersistentVolume for the claim ns/claim: the
// test cluster has no provisioner, so a PVC binds only to a volume an
// administrator made. Pre-bound (claimRef), on a directory of the test
// owned by uid 1000 (the manifests' pods run as 1000; fsGroup does not
// apply to hostPath).
func hostPathVolume(t *testing.T, ctx context.Context, c *kubetest.Cluster, ns, claim string, size resource.Quantity) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), claim)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	typ := corev1.HostPathDirectory
	name := "incluster-" + claim
	if _, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: claim},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &typ}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Client.CoreV1().PersistentVolumes().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// waitDeployments waits until each Deployment of ns has its replica
// ready, and on timeout fails with its pods' states and logs.
func waitDeployments(t *testing.T, ctx context.Context, c *kubetest.Cluster, ns string, names ...string) {
	t.Helper()
	for _, name := range names {
		for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
			d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err == nil && d.Status.ReadyReplicas >= 1 && d.Status.UpdatedReplicas >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("deployment %s/%s not ready: %v\n%s", ns, name, err, podReport(c, ns))
			}
		}
	}
}

// podReport is the state and log end of every pod in ns.
func podReport(c *kubetest.Cluster, ns string) string {
	ctx := context.Background()
	list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range list.Items {
		fmt.Fprintf(&b, "pod %s: %s", p.Name, p.Status.Phase)
		for _, s := range p.Status.ContainerStatuses {
			fmt.Fprintf(&b, " [%s ready=%v restarts=%d %+v]", s.Name, s.Ready, s.RestartCount, s.State)
		}
		b.WriteString("\n")
		tail := int64(20)
		logs, _ := c.Client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
		b.Write(logs)
	}
	return b.String()
}

// TestServeInCluster: runner serve runs in the cluster from
// deploy/kubernetes (its images built by runner's build-image, pointed at
// the nodes' registry as docs/kubernetes.md says), with kube-proxy,
// CoreDNS and static PersistentVolumes. Through its Service's ClusterIP a
// dispatched workflow runs each job in a pod of its own, made with the
// service account's Role alone (the in-cluster configuration: no
// kubeconfig), one job building on the in-cluster buildkitd through its
// Service's name; a Role without one of its verbs makes the service
// refuse to start, naming it; deleting the manifests leaves no pod.
func TestServeInCluster(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Buildkitd)
	c := kubetest.Shared(t)
	if c.DNSIP == nil {
		t.Fatal("the shared cluster runs without kube-proxy and CoreDNS (kubetest.Options Proxy, DNS)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	begin := time.Now()
	deployImages(t, ctx, c)
	t.Logf("images built with build-image and pushed in %s", time.Since(begin).Round(time.Millisecond))

	// The repository serve runs workflows from: mirrored from a URL.
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	gittest.Origin(t, filepath.Join(root, "repo.git"), map[string]string{
		".github/workflows/k.yaml": `on: workflow_dispatch
jobs:
  hello:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "hello from $(hostname) with $(cat bird.txt)"
      - run: test ! -e /var/run/secrets/kubernetes.io/serviceaccount/token && echo "no service account token"
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: img
        uses: build-image
        with:
          context: ctx
          file: ctx/Containerfile
          image: hello
          tags: t1
          archive: hello.tar
      - run: test -s hello.tar && echo "built ${{ steps.img.outputs.image }} in $(hostname)"
`,
		"bird.txt":      "wren",
		"ctx/hello.txt": "hello",
		"ctx/busybox":   string(busybox),
		// A RUN step: buildkitd runs it with runc in its pod.
		"ctx/Containerfile": "FROM scratch\nCOPY --chmod=755 busybox /bin/busybox\nCOPY hello.txt /hello.txt\n" +
			`RUN ["/bin/busybox", "sh", "-c", "echo ran-in-buildkitd: $(/bin/busybox cat /hello.txt) > /ran"]` + "\n",
	})
	repoURL := serveRepo(t, c.GatewayIP, root) + "/repo.git"

	const ns, token = "runner", "in-cluster-test-token"
	objs := deployObjects(t, c.PodRegistryAddr, func(file, text string) string {
		if file == "20-config.yaml" {
			text = strings.Replace(text, "    executor:\n", fmt.Sprintf(
				"    repositories:\n      - url: %s\n        name: local/repo\n    executor:\n", repoURL), 1)
		}
		return text
	})
	a := newApplier(t, c)
	t.Cleanup(func() { deleteDeployment(t, c, ns) })
	a.apply(t, ctx, objs[:1]) // the namespace
	hash, err := bcrypt.GenerateFromPassword([]byte("registry-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]map[string]string{
		"runner-token":      {"token": token},
		"registry-htpasswd": {"htpasswd": "ci:" + string(hash) + "\n"},
	} {
		if _, err := c.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: data,
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range objs {
		if o.GetKind() != "PersistentVolumeClaim" {
			continue
		}
		var pvc corev1.PersistentVolumeClaim
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &pvc); err != nil {
			t.Fatal(err)
		}
		hostPathVolume(t, ctx, c, ns, pvc.Name, pvc.Spec.Resources.Requests[corev1.ResourceStorage])
	}
	applied := time.Now()
	a.apply(t, ctx, objs[1:])
	waitDeployments(t, ctx, c, ns, "registry", "buildkitd", "runner-serve")
	t.Logf("deploy/kubernetes applied, its three Deployments ready in %s", time.Since(applied).Round(time.Millisecond))

	// serve through its Service, by its name as pods reach it: resolved by
	// the cluster's DNS (CoreDNS), routed by kube-proxy.
	s := &apiClient{t: t, url: "http://runner.runner.svc.cluster.local:8080", token: token, hc: clusterHTTP(c)}
	// kube-proxy follows the Service's endpoints within its sync period;
	// until then the ClusterIP refuses.
	testenv.Eventually(t, time.Minute, func() bool {
		resp, err := s.hc.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, "runner serve does not answer at %s", s.url)
	if code := s.call("POST", "/repos/local/repo/actions/workflows/k.yaml/dispatches", map[string]any{"ref": "main"}, nil); code != 204 {
		t.Fatalf("dispatch: %d\n%s", code, podReport(c, ns))
	}
	var runs struct {
		Runs []struct {
			ID         int64  `json:"id"`
			Status     string `json:"status"`
			Conclusion string `json:"conclusion"`
		} `json:"workflow_runs"`
	}
	jobPods := map[string]bool{}
	dispatched := time.Now()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=runner"})
		if err == nil {
			for _, p := range list.Items {
				jobPods[p.Name] = true
				if p.Spec.ServiceAccountName != "" && p.Spec.ServiceAccountName != "default" {
					t.Errorf("job pod %s runs as service account %s", p.Name, p.Spec.ServiceAccountName)
				}
			}
		}
		s.call("GET", "/repos/local/repo/actions/runs", nil, &runs)
		if len(runs.Runs) > 0 && runs.Runs[0].Status == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not complete: %+v\n%s", runs, podReport(c, ns))
		}
	}
	id := runs.Runs[0].ID
	t.Logf("run %d (two jobs in pods, one image build on buildkitd) completed %s after the dispatch", id, time.Since(dispatched).Round(time.Millisecond))
	var jobs struct {
		Jobs []struct {
			ID         int64  `json:"id"`
			Name       string `json:"name"`
			Conclusion string `json:"conclusion"`
			RunnerName string `json:"runner_name"`
		} `json:"jobs"`
	}
	s.call("GET", fmt.Sprintf("/repos/local/repo/actions/runs/%d/jobs", id), nil, &jobs)
	logs := map[string]string{}
	for _, j := range jobs.Jobs {
		logs[j.Name] = s.text(fmt.Sprintf("/repos/local/repo/actions/jobs/%d/logs?text=1", j.ID))
	}
	if runs.Runs[0].Conclusion != "success" {
		t.Fatalf("run %d: %s; jobs %+v\n%s\n%s", id, runs.Runs[0].Conclusion, jobs.Jobs, logs, podReport(c, ns))
	}
	for _, j := range jobs.Jobs {
		if !strings.HasPrefix(j.RunnerName, "runner-"+j.Name+"-") {
			t.Errorf("job %s ran in %q, want a pod of its own", j.Name, j.RunnerName)
		}
		if !jobPods[j.RunnerName] {
			t.Errorf("job %s's pod %s was not seen in namespace %s (seen: %v)", j.Name, j.RunnerName, ns, jobPods)
		}
	}
	if len(jobs.Jobs) != 2 {
		t.Errorf("jobs: %+v", jobs.Jobs)
	}
	for _, want := range []string{"hello from runner-hello-", "with wren", "no service account token"} {
		if !strings.Contains(logs["hello"], want) {
			t.Errorf("job hello's log lacks %q:\n%s", want, logs["hello"])
		}
	}
	for _, want := range []string{"buildkitd: BUILDKIT_HOST=tcp://buildkitd.runner.svc:1234", "RUN [\"/bin/busybox\"", "built hello", "in runner-build-"} {
		if !strings.Contains(logs["build"], want) {
			t.Errorf("job build's log lacks %q:\n%s", want, logs["build"])
		}
	}
	testenv.Eventually(t, time.Minute, func() bool { return len(jobPodsNow(t, c, ns)) == 0 }, "job pods left after the run")

	// The Role without any one of its verbs: a restarted service refuses
	// to start, naming what it may not do. With the whole Role back, it
	// starts again.
	role, err := c.Client.RbacV1().Roles(ns).Get(ctx, "runner-executor", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equalRules(role.Rules, kube.Rules) {
		t.Fatalf("the applied Role is not kube.Rules: %+v", role.Rules)
	}
	full := role.DeepCopy().Rules
	refused := time.Now()
	for i, r := range full {
		for _, verb := range r.Verbs {
			rules := make([]rbacv1.PolicyRule, len(full))
			for k := range full {
				rules[k] = *full[k].DeepCopy()
			}
			rules[i].Verbs = without(r.Verbs, verb)
			if len(rules[i].Verbs) == 0 { // a rule needs a verb: drop it
				rules = append(rules[:i], rules[i+1:]...)
			}
			want := fmt.Sprintf("may not %s %s in namespace runner", verb, r.Resources[0])
			if verb == "create" && r.Resources[0] == "pods" {
				want = "cannot create pods in namespace runner"
			}
			log := restartServe(t, ctx, c, ns, rules, want)
			t.Logf("without %s %s: %s", verb, r.Resources[0], log)
		}
	}
	t.Logf("every verb refused in %s", time.Since(refused).Round(time.Millisecond))
	restartServe(t, ctx, c, ns, full, "")
	waitDeployments(t, ctx, c, ns, "runner-serve")

	// Everything deleted: no pod is left.
	deleted := time.Now()
	deleteDeployment(t, c, ns)
	t.Logf("namespace runner deleted, its pods gone, in %s", time.Since(deleted).Round(time.Millisecond))
	if left, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=runner"}); err != nil || len(left.Items) > 0 {
		t.Errorf("pods left after deleting deploy/kubernetes: %v %v", left, err)
	}
	if left := jobPodsNow(t, c, ""); len(left) > 0 {
		t.Errorf("job pods left: %v", left)
	}
}

// clusterHTTP is an HTTP client that resolves names with the cluster's
// DNS, as a pod does.
func clusterHTTP(c *kubetest.Cluster) *http.Client {
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(c.DNSIP.String(), "53"))
	}}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{Resolver: resolver, Timeout: 10 * time.Second}).DialContext,
	}}
}

// apiClient calls runner serve's API with its token.
type apiClient struct {
	t     *testing.T
	url   string
	token string
	hc    *http.Client
}

func (s *apiClient) do(method, path string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (s *apiClient) call(method, path string, body, out any) int {
	s.t.Helper()
	code, b := s.do(method, path, body)
	if out != nil && code < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return code
}

// restartServe gives the Role rules, deletes serve's pod and waits until
// its successor's log holds want (the line is returned), or, with want
// empty, until it runs.
func restartServe(t *testing.T, ctx context.Context, c *kubetest.Cluster, ns string, rules []rbacv1.PolicyRule, want string) string {
	t.Helper()
	role, err := c.Client.RbacV1().Roles(ns).Get(ctx, "runner-executor", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role.Rules = rules
	if _, err := c.Client.RbacV1().Roles(ns).Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	grace := int64(1)
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=runner-serve"}
	if err := c.Client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &grace}, sel); err != nil {
		t.Fatal(err)
	}
	if want == "" {
		return ""
	}
	var line string
	testenv.Eventually(t, 2*time.Minute, func() bool {
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, sel)
		if err != nil {
			return false
		}
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			b, _ := c.Client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
			if !bytes.Contains(b, []byte(want)) {
				b, _ = c.Client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Previous: true}).DoRaw(ctx)
			}
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, want) {
					line = l
					return true
				}
			}
		}
		return false
	}, "serve with a Role lacking a verb: want %q in its log", want)
	return line
}

func (s *apiClient) text(path string) string {
	s.t.Helper()
	_, b := s.do("GET", path, nil)
	return string(b)
}

func jobPodsNow(t *testing.T, c *kubetest.Cluster, ns string) []string {
	t.Helper()
	list, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=runner"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return names
}

// deleteDeployment deletes the namespace of deploy/kubernetes (everything
// in it goes with it) and waits until it is gone.
func deleteDeployment(t *testing.T, c *kubetest.Cluster, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
		return
	}
	for {
		_, err := c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if ctx.Err() != nil {
			t.Errorf("namespace %s not gone: %v\n%s", ns, err, podReport(c, ns))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func equalRules(a, b []rbacv1.PolicyRule) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func without(list []string, x string) []string {
	var out []string
	for _, v := range list {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}
