package kubetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/testenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// checkServicesRoute: on a cluster with Options.Proxy and Options.DNS, a
// pod reaches a Service backed by another pod by its ClusterIP, by its
// short name and by its full name (CoreDNS, the kubelet's clusterDNS);
// the kubernetes Service's name resolves and its port answers a pod; this
// machine reaches the apiserver at the kubernetes Service's ClusterIP
// with its certificate verified.
func checkServicesRoute(t *testing.T, c *Cluster, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	labels := map[string]string{"app": "web"}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: c.BusyboxImage,
			Command: []string{"sh", "-c", `mkdir /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www`},
			ReadinessProbe: &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
				PeriodSeconds: 1,
			},
		}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := c.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{
			Port: 80, TargetPort: intstr.FromInt32(8080),
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() bool {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}, "pod web not Ready")
	// kube-proxy applies a new Service within its sync period: retry.
	// (HTTP through nc: Debian's static busybox wget crashes on a pod's
	// resolv.conf with search domains.)
	pod, logs := runPod(t, c, ns, fmt.Sprintf(`
get() {
  for i in $(seq 40); do
    out=$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 "$1" 80 | tail -1) && [ -n "$out" ] && echo "$out" && return
    sleep 0.5
  done
  echo "no answer from $1"
}
echo "clusterip: $(get %s)"
echo "short: $(get web)"
echo "full: $(get web.%s.svc.%s)"
nslookup kubernetes.default.svc.%s >/dev/null && echo "kubernetes resolves"
nc -w 3 kubernetes.default 443 </dev/null && echo "kubernetes:443 open"
grep nameserver /etc/resolv.conf
`, svc.Spec.ClusterIP, ns, ClusterDomain, ClusterDomain))
	if pod.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("client pod %s: %s\n%s", pod.Name, pod.Status.Phase, logs)
	}
	for _, want := range []string{
		"clusterip: hello from web", "short: hello from web", "full: hello from web",
		"kubernetes resolves", "kubernetes:443 open", "nameserver " + c.DNSIP.String(),
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("client pod's log lacks %q:\n%s", want, logs)
		}
	}

	// This machine, at the kubernetes Service's ClusterIP.
	api, err := c.Client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.Host = "https://" + api.Spec.ClusterIP + ":443"
	cfg.Timeout = 10 * time.Second
	cl, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := cl.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("the apiserver at the kubernetes Service's ClusterIP %s: %v", cfg.Host, err)
	}
	t.Logf("apiserver %s at %s; client pod:\n%s", v.GitVersion, cfg.Host, logs)
}
