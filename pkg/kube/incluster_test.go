package kube_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/testenv"
)

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
      - uses: ./js
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
		"bird.txt": "wren",
		// A JavaScript action: the deployed image's node runs it.
		"js/action.yml": "name: js\nruns:\n  using: node20\n  main: index.js\n",
		"js/index.js":   "console.log('javascript ran with node ' + process.version + ' at ' + process.execPath)\n",
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
	for _, want := range []string{"hello from runner-hello-", "with wren", "no service account token", "javascript ran with node v", " at /usr/local/bin/node"} {
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
			want := fmt.Sprintf("the pod's service account may not %s %s in namespace runner", verb, r.Resources[0])
			if verb == "create" && r.Resources[0] == "pods" {
				want = "cannot create pods in namespace runner with the pod's service account"
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
