package kube_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/testenv"
)

// limitedTransport is an executor in a namespace of the test's own that
// acts as a service account granted only rules there (a Role and its
// binding), with a token of its own in a kubeconfig of the test's.
func limitedTransport(t *testing.T, c *kubetest.Cluster, rules []rbacv1.PolicyRule) *kube.Transport {
	t.Helper()
	ctx := context.Background()
	ns := namespace(t, c)
	const name = "limited"
	if _, err := c.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hour := int64(3600)
	tok, err := c.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cur := kc.Contexts[kc.CurrentContext]
	kc.AuthInfos = map[string]*clientcmdapi.AuthInfo{name: {Token: tok.Status.Token}}
	kc.Contexts = map[string]*clientcmdapi.Context{name: {Cluster: cur.Cluster, AuthInfo: name, Namespace: ns}}
	kc.CurrentContext = name
	file := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, file); err != nil {
		t.Fatal(err)
	}
	return transportAs(t, c, ns, file, kube.Config{})
}

// TestSecretsRefusedWithoutSecretRights: an executor granted kube.Rules
// only (deploy/kubernetes' Role: no secrets) runs plain jobs, refuses a
// job whose service's env holds a secret before any pod, naming the
// grant it lacks, and fails a Docker step with a secret in its env the
// same way; neither leaves a pod.
func TestSecretsRefusedWithoutSecretRights(t *testing.T) {
	c := kubetest.Shared(t)
	tr := limitedTransport(t, c, kube.Rules)
	ns := tr.Client.Namespace
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	grant := "may not create one in namespace " + ns + " (grant create, patch, delete on secrets)"

	res := runWorkflow(t, ctx, `on: push
jobs:
  plain:
    runs-on: ubuntu-latest
    steps:
      - run: echo "ran with the Role's rules"
`, run.Options{Remote: tr.Legs()})
	if log := jobLog(t, res); res.Conclusion != "success" || !strings.Contains(log, "ran with the Role's rules") {
		t.Fatalf("a plain job with kube.Rules: %s\n%s", res.Conclusion, log)
	}

	res = runWorkflow(t, ctx, `on: push
jobs:
  svc:
    runs-on: ubuntu-latest
    services:
      db:
        image: `+c.BusyboxImage+`
        env:
          PW: ${{ secrets.PW }}
    steps:
      - run: echo "must not run"
`, run.Options{Remote: tr.Legs(), Secrets: map[string]string{"PW": "s3cret-in-service"}})
	log := jobLog(t, res)
	if res.Conclusion != "failure" || strings.Contains(log, "must not run") || strings.Contains(log, "Created pod") || !strings.Contains(log, grant) || strings.Contains(log, "s3cret-in-service") {
		t.Errorf("a service with a secret env and no rights on secrets: %s\n%s", res.Conclusion, log)
	}
	if left := pods(t, c, ns); len(left) > 0 {
		t.Errorf("pods made or left: %v", left)
	}

	res = runWorkflow(t, ctx, `on: push
jobs:
  docker:
    runs-on: ubuntu-latest
    steps:
      - uses: docker://`+c.BusyboxImage+`
        env:
          PW: ${{ secrets.PW }}
        with:
          args: echo "must not run either"
      - if: always()
        run: echo "the job went on"
`, run.Options{Remote: tr.Legs(), Secrets: map[string]string{"PW": "s3cret-in-step"}})
	log = jobLog(t, res)
	if res.Conclusion != "failure" || strings.Contains(log, "must not run either") || !strings.Contains(log, "the Docker action's env holds secrets") ||
		!strings.Contains(log, grant) || !strings.Contains(log, "the job went on") || strings.Contains(log, "s3cret-in-step") {
		t.Errorf("a Docker step with a secret env and no rights on secrets: %s\n%s", res.Conclusion, log)
	}
	testenv.Eventually(t, time.Minute, func() bool { return len(pods(t, c, ns)) == 0 }, "pods left in %s", ns)
}
