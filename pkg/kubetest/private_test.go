package kubetest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/registry/baseimage"
	"github.com/birdflock/runner/pkg/testenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPrivateRegistry: the Private registry refuses a push without its
// password; a pod pulls from it with an image pull Secret holding the
// password, and fails to pull without one.
func TestPrivateRegistry(t *testing.T) {
	c := Shared(t)
	ns := c.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	img, err := baseimage.Alpine(ctx, baseimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref := c.Private.Addr + "/private/busybox"
	if _, err := registry.New(registry.Options{}).Push(ctx, registry.FromImage(img), ref, []string{"1"}); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		t.Fatalf("push without the password: %v, want unauthorized", err)
	}
	cl := registry.New(registry.Options{Credentials: []registry.Credential{{Registry: c.Private.Addr, Username: c.Private.Username, Password: c.Private.Password}}})
	if _, err := cl.Push(ctx, registry.FromImage(img), ref, []string{"1"}); err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(c.Private.Username + ":" + c.Private.Password))
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{c.Private.Addr: map[string]string{
		"username": c.Private.Username, "password": c.Private.Password, "auth": auth}}})
	if _, err := c.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "pull"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: cfg},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := func(name string, secrets ...string) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "main", Image: ref + ":1", ImagePullPolicy: corev1.PullAlways,
					Command: []string{"sh", "-c", "echo pulled"},
				}},
			},
		}
		for _, s := range secrets {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		return p
	}
	// Without the Secret first: the image is not on the node yet.
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod("without"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var reason string
	testenv.Eventually(t, 2*time.Minute, func() bool {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, "without", metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		reason = w.Reason + ": " + w.Message
		return w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff"
	}, "pod without the Secret did not fail to pull")
	if !strings.Contains(reason, "401") && !strings.Contains(strings.ToLower(reason), "unauthorized") {
		t.Errorf("pull without the Secret: %s, want unauthorized", reason)
	}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod("with", "pull"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, func() bool {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, "with", metav1.GetOptions{})
		return err == nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed)
	}, "pod with the Secret did not finish")
	logs, err := c.Client.CoreV1().Pods(ns).GetLogs("with", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || strings.TrimSpace(string(logs)) != "pulled" {
		t.Fatalf("pod with the Secret: %q, %v", logs, err)
	}
}
