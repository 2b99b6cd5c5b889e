package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Services' secret env. A service's env value that holds a secret
// (run.LegService.SecretEnv) must not be in the pod's spec, which whoever
// may read pods can read. It goes through a Secret of its own, made just
// before the pod, owned by the pod once it exists (the garbage collector
// deletes it with the pod), and deleted once the pod has started (with
// health checks, once its services are healthy, which the leg waits for
// anyway) and every container that reads it has been created (a
// container's env is fixed then): the value is in the cluster for the
// pod's start only. The Secret
// carries the pod's labels, so Sweep deletes one a killed controller left
// before it could own it. It needs SecretRules.

// SecretRules are what services' secret env needs beyond Rules: the
// Secret's creation, its owner (a patch) and its deletion. Sweep also
// lists the instance's Secrets where it may: list reads every Secret of
// the namespace, so it is not required (without it, a Secret left by a
// controller killed in the instant before its pod owned it stays).
var SecretRules = []string{"create", "patch", "delete"}

// secretKey is the key of service i's secret env entry j in the leg's
// Secret (env names may hold what keys may not).
func secretKey(i, j int) string { return "s" + strconv.Itoa(i) + "-" + strconv.Itoa(j) }

// legSecret is the Secret holding leg's services' secret env, or nil when
// none has any.
func legSecret(instance, namespace string, leg Leg) *corev1.Secret {
	data := map[string][]byte{}
	for i, s := range leg.Services {
		for j, e := range s.SecretEnv {
			_, v, _ := strings.Cut(e, "=")
			data[secretKey(i, j)] = []byte(v)
		}
	}
	if len(data) == 0 {
		return nil
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: podName(leg.Job),
			Namespace:    namespace,
			Labels:       legLabels(instance, leg),
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
}

// secretEnv is service i's secret env as references to the Secret name.
func secretEnv(name string, i int, s []string) []corev1.EnvVar {
	var env []corev1.EnvVar
	for j, e := range s {
		k, _, _ := strings.Cut(e, "=")
		env = append(env, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: secretKey(i, j),
		}}})
	}
	return env
}

// createSecret makes leg's Secret, if it needs one, and returns its name
// ("" for none).
func (t *Transport) createSecret(ctx context.Context, leg Leg) (string, error) {
	s := legSecret(t.Instance, t.Client.Namespace, leg)
	if s == nil {
		return "", nil
	}
	made, err := t.Client.Set.CoreV1().Secrets(t.Client.Namespace).Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsForbidden(err) {
		return "", fmt.Errorf("kubernetes: job %s: its services' env holds secrets, which go to the pod through a Secret, and the executor may not create one in namespace %s (grant %s on secrets)", leg.Job, t.Client.Namespace, strings.Join(SecretRules, ", "))
	}
	if err != nil {
		return "", fmt.Errorf("kubernetes: job %s: creating the Secret of its services' env: %w", leg.Job, err)
	}
	return made.Name, nil
}

// ownSecret makes the pod p the owner of the Secret name ("" for none).
func (t *Transport) ownSecret(ctx context.Context, name string, p *corev1.Pod) error {
	if name == "" {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Pod", Name: p.Name, UID: p.UID,
	}}}})
	if err != nil {
		return err
	}
	_, err = t.Client.Set.CoreV1().Secrets(t.Client.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("kubernetes: making pod %s the owner of Secret %s: %w", p.Name, name, err)
	}
	return nil
}

// deleteSecret deletes the Secret name ("" for none).
func (t *Transport) deleteSecret(name string) error {
	if name == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	err := t.Client.Set.CoreV1().Secrets(t.Client.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("kubernetes: deleting Secret %s: %w", name, err)
	}
	return nil
}

// sweepSecrets deletes the Secrets of instance (a controller killed
// between a Secret and its pod's start left it); a controller that may
// not list Secrets made none.
func sweepSecrets(ctx context.Context, c *Client, instance string) ([]string, error) {
	secrets := c.Set.CoreV1().Secrets(c.Namespace)
	list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: instanceSelector(instance)})
	if apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes: listing the Secrets of %s: %w", instance, err)
	}
	var gone []string
	for _, s := range list.Items {
		err := secrets.Delete(ctx, s.Name, metav1.DeleteOptions{})
		switch {
		case apierrors.IsForbidden(err):
			continue // may list, not delete: it stays, the service starts
		case err != nil && !apierrors.IsNotFound(err):
			return gone, fmt.Errorf("kubernetes: deleting Secret %s: %w", s.Name, err)
		}
		gone = append(gone, "secret/"+s.Name)
	}
	return gone, nil
}
