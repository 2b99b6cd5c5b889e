package kube_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
)

// TestCheckNamesNamespaceAndRights: Transport.Check refuses a namespace
// that does not exist and a user without the executor's rights, naming
// them, and creates nothing; runner exec --executor kubernetes then exits
// 2 before any job starts, instead of failing every job with exit 1.
func TestCheckNamesNamespaceAndRights(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tr.Check(ctx); err != nil {
		t.Fatalf("Check with an admin kubeconfig: %v", err)
	}
	if left := pods(t, c, tr.Client.Namespace); len(left) > 0 {
		t.Errorf("Check left pods: %v", left)
	}
	wrongNS := &kube.Transport{Config: tr.Config, Client: &kube.Client{REST: tr.Client.REST, Set: tr.Client.Set, Namespace: "no-such-ns"}, Instance: tr.Instance}
	if err := wrongNS.Check(ctx); err == nil || !strings.Contains(err.Error(), "namespace no-such-ns does not exist") {
		t.Errorf("Check in a missing namespace: %v", err)
	}
	// A user the cluster knows but no Role grants anything.
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	set, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	noRights := &kube.Transport{Config: tr.Config, Client: &kube.Client{REST: cfg, Set: set, Namespace: tr.Client.Namespace}, Instance: tr.Instance}
	if err := noRights.Check(ctx); err == nil || !strings.Contains(err.Error(), "cannot create pods in namespace "+tr.Client.Namespace) {
		t.Errorf("Check without rights: %v", err)
	}

	// The same through runner exec: exit 2, the reason on stderr, no job run.
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".github", "workflows", "ok.yaml"), []byte("on: push\njobs:\n  hello:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	kc, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range kc.AuthInfos {
		a.Impersonate = "nobody"
	}
	nobody := filepath.Join(t.TempDir(), "nobody.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, nobody); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ kubeconfig, ns, want string }{
		{c.Kubeconfig, "no-such-ns", "namespace no-such-ns does not exist"},
		{nobody, tr.Client.Namespace, "cannot create pods in namespace " + tr.Client.Namespace},
	} {
		cmd := exec.Command(runnerImageBin(t, c), "exec", "ok", "--executor", "kubernetes", "--kubeconfig", tc.kubeconfig,
			"--namespace", tc.ns, "--image", tr.Config.Image, "--state", filepath.Join(repo, ".runner"))
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != 2 || !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "job hello") {
			t.Errorf("runner exec --namespace %s --kubeconfig %s: exit %d, want 2 naming %q before any job:\n%s", tc.ns, filepath.Base(tc.kubeconfig), code, tc.want, out)
		}
	}
}

// runnerImageBin is this tree's runner binary (built with its image).
func runnerImageBin(t *testing.T, c *kubetest.Cluster) string {
	runnerImage(t, c)
	return runnerBin
}
