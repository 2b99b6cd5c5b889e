package kube_test

import (
	"context"
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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/birdflock/runner/pkg/buildkit"
	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/registry/baseimage"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
)

// Putting deploy/kubernetes into the test cluster as a user would: its
// images built with build-image, its manifests pointed at the nodes'
// registry and applied, its volumes and Secrets made (TestServeInCluster).

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
// registry as runner/runner:latest and runner/buildkitd:latest. Docker
// Hub's node:24-bookworm-slim is a stand-in (baseimage.Node) in that registry.
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
	// The stand-in for node:24-bookworm-slim, which runner's image starts
	// from.
	nodePath, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	node, err := baseimage.Node(ctx, baseimage.Options{}, nodePath)
	if err != nil {
		t.Fatal(err)
	}
	ct.Push(t, node, c.RegistryAddr, "library/node", "24-bookworm-slim")
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
