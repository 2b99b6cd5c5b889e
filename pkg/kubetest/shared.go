package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/testenv"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The cluster the tests of one package share: Shared starts it on first
// use, Main stops it after the last test.
var shared struct {
	sync.Mutex
	main    bool
	started bool
	c       *Cluster
	err     error
	log     strings.Builder
	opts    Options // what Shared starts (MainWith)
}

// Main runs the tests of a package that calls Shared and stops the shared
// cluster after them:
//
//	func TestMain(m *testing.M) { os.Exit(kubetest.Main(m)) }
func Main(m *testing.M) int { return MainWith(m, Options{}) }

// MainWith is Main for a package whose shared cluster is started with o
// (e.g. two nodes); o.Log is the shared start's.
func MainWith(m *testing.M, o Options) int {
	shared.Lock()
	shared.main = true
	shared.opts = o
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.c != nil {
		if err := shared.c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Shared returns the cluster the package's tests share, starting it on
// first use (the package's TestMain must call Main, which stops it). A
// missing part (not root, no `make kube`, a Debian package) fails tb under
// CI=true and skips it elsewhere; a failed start fails every test that
// asks for the cluster.
func Shared(tb testing.TB) *Cluster {
	tb.Helper()
	shared.Lock()
	defer shared.Unlock()
	if !shared.main {
		tb.Fatal("kubetest.Shared needs kubetest.Main in the package's TestMain (it stops the cluster)")
	}
	if !shared.started {
		shared.started = true
		if err := Check(""); err != nil {
			shared.err = err
		} else {
			// Start may wait for the cluster of another package's tests:
			// until shortly before this test binary's deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
				if deadline, ok := d.Deadline(); ok {
					cancel()
					ctx, cancel = context.WithDeadline(context.Background(), deadline.Add(-30*time.Second))
				}
			}
			shared.c, shared.err = Start(ctx, withLog(shared.opts, &shared.log))
			cancel()
		}
	}
	if err := shared.err; err != nil {
		if m := (*MissingError)(nil); errors.As(err, &m) {
			testenv.Missing(tb, "a Kubernetes cluster: %v", err)
		}
		tb.Fatalf("the shared cluster did not start: %v\n%s", err, shared.log.String())
	}
	return shared.c
}

// Namespace creates a namespace for tb, named after it, and deletes it
// when tb ends, waiting until its pods are gone. It returns once the
// namespace's default service account exists (pods are refused before).
func (c *Cluster) Namespace(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(tb.Name()))
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	ns, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: strings.Trim(prefix, "-") + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	name := ns.Name
	tb.Cleanup(func() {
		if c.stopped.Load() {
			return // Stop deleted every pod
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		grace := int64(1)
		if err := c.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil && !apierrors.IsNotFound(err) {
			tb.Errorf("delete namespace %s: %v", name, err)
			return
		}
		// The namespace controller deletes the pods with their own grace
		// period; wait for the kubelet to confirm them gone.
		for {
			pods, err := c.Client.CoreV1().Pods(name).List(ctx, metav1.ListOptions{})
			if err == nil && len(pods.Items) == 0 {
				return
			}
			if ctx.Err() != nil {
				tb.Errorf("namespace %s: pods not gone: %v", name, ctx.Err())
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	testenv.Eventually(tb, time.Minute, func() bool {
		_, err := c.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	}, "namespace %s has no default service account", name)
	return name
}

func withLog(o Options, w io.Writer) Options {
	o.Log = w
	return o
}
