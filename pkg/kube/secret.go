package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/birdflock/runner/pkg/registry"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A leg's Secret. What a pod needs that must not be in its spec (which
// whoever may read pods can read) goes through a Secret of its own, made
// just before the pod, owned by the pod once it exists (the garbage
// collector deletes it with the pod), and deleted once the pod has started
// (with health checks, once its services are healthy, which the leg waits
// for anyway): by then every container that reads it has been created (a
// container's env is fixed then) and every image pulled. The value is in
// the cluster for the pod's start only. It holds:
//   - a service's env value that holds a secret (run.LegService.SecretEnv),
//     which the service's container reads through a secretKeyRef;
//   - the credentials: of the job's container: and services (the node
//     pulls their images): then the Secret is of type
//     kubernetes.io/dockerconfigjson and the pod's image pull Secret.
//
// The Secret carries the pod's labels, so Sweep deletes one a killed
// controller left before it could own it. It needs SecretRules.

// SecretRules are what a leg's Secret needs beyond Rules: the Secret's
// creation, its owner (a patch) and its deletion. Sweep also lists the
// instance's Secrets where it may: list reads every Secret of the
// namespace, so it is not required (without it, a Secret left by a
// controller killed in the instant before its pod owned it stays).
var SecretRules = []string{"create", "patch", "delete"}

// secretKey is the key of service i's secret env entry j in the leg's
// Secret (env names may hold what keys may not).
func secretKey(i, j int) string { return "s" + strconv.Itoa(i) + "-" + strconv.Itoa(j) }

// legSecret is the Secret holding leg's services' secret env and its
// images' credentials, or nil when it needs none.
func legSecret(instance, namespace string, leg Leg) (*corev1.Secret, error) {
	data := map[string][]byte{}
	for i, s := range leg.Services {
		for j, e := range s.SecretEnv {
			_, v, _ := strings.Cut(e, "=")
			data[secretKey(i, j)] = []byte(v)
		}
	}
	pull, err := pullConfig(leg)
	if err != nil {
		return nil, err
	}
	typ := corev1.SecretTypeOpaque
	if pull != nil {
		typ = corev1.SecretTypeDockerConfigJson
		data[corev1.DockerConfigJsonKey] = pull
	}
	if len(data) == 0 {
		return nil, nil
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: podName(leg.Job),
			Namespace:    namespace,
			Labels:       legLabels(instance, leg),
		},
		Type: typ,
		Data: data,
	}, nil
}

// pullConfig is the docker config (.dockerconfigjson) of the credentials:
// of leg's container: and services, by registry host, or nil for none.
// The kubelet matches a registry by its host, so two different
// credentials for one registry in one job are refused.
func pullConfig(leg Leg) ([]byte, error) {
	type entry struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Auth     string `json:"auth"`
	}
	auths := map[string]entry{}
	whose := map[string]string{}
	add := func(c *registry.Credential, what string) error {
		if c == nil {
			return nil
		}
		e := entry{c.Username, c.Password, base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))}
		if old, ok := auths[c.Registry]; ok && old != e {
			return fmt.Errorf("kubernetes: job %s: %s and %s have different credentials for registry %s, and a pod pulls from a registry with one", leg.Job, whose[c.Registry], what, c.Registry)
		}
		auths[c.Registry], whose[c.Registry] = e, what
		return nil
	}
	if leg.Container != nil {
		if err := add(leg.Container.Credentials, "container"); err != nil {
			return nil, err
		}
	}
	for _, s := range leg.Services {
		if err := add(s.Credentials, "services."+s.Label); err != nil {
			return nil, err
		}
	}
	if len(auths) == 0 {
		return nil, nil
	}
	return json.Marshal(map[string]any{"auths": auths})
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
	s, err := legSecret(t.Instance, t.Client.Namespace, leg)
	if s == nil || err != nil {
		return "", err
	}
	made, err := t.Client.Set.CoreV1().Secrets(t.Client.Namespace).Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsForbidden(err) {
		return "", fmt.Errorf("kubernetes: job %s: %s, which go to the pod through a Secret, and the executor may not create one in namespace %s (grant %s on secrets)", leg.Job, secretHolds(s), t.Client.Namespace, strings.Join(SecretRules, ", "))
	}
	if err != nil {
		return "", fmt.Errorf("kubernetes: job %s: creating the Secret of its pod: %w", leg.Job, err)
	}
	return made.Name, nil
}

// pullSecrets are the image pull Secrets of leg's pod: none when its
// Secret holds no credentials; else those of the pod's service account
// (the admission adds them only to a pod that names none), then the
// leg's Secret. An account the executor may not read is said in the
// job's log: its pod pulls with the job's credentials alone.
func (t *Transport) pullSecrets(ctx context.Context, leg Leg) ([]corev1.LocalObjectReference, error) {
	if leg.secret == "" || !legPulls(leg) {
		return nil, nil
	}
	sa := t.Config.template(leg.Labels).ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	var refs []corev1.LocalObjectReference
	acct, err := t.Client.Set.CoreV1().ServiceAccounts(t.Client.Namespace).Get(ctx, sa, metav1.GetOptions{})
	switch {
	case apierrors.IsForbidden(err) || apierrors.IsNotFound(err):
		if leg.Log != nil {
			leg.Log(fmt.Sprintf("The pod's image pull Secrets are the job's credentials alone: service account %s's own could not be read (%s)", sa, apierrors.ReasonForError(err)))
		}
	case err != nil:
		return nil, fmt.Errorf("kubernetes: job %s: reading service account %s's image pull Secrets: %w", leg.Job, sa, err)
	default:
		refs = append(refs, acct.ImagePullSecrets...)
	}
	return append(refs, corev1.LocalObjectReference{Name: leg.secret}), nil
}

// legPulls reports whether leg's container: or a service has credentials.
func legPulls(leg Leg) bool {
	if leg.Container != nil && leg.Container.Credentials != nil {
		return true
	}
	for _, s := range leg.Services {
		if s.Credentials != nil {
			return true
		}
	}
	return false
}

// secretHolds says what the Secret s holds, for an error.
func secretHolds(s *corev1.Secret) string {
	_, pull := s.Data[corev1.DockerConfigJsonKey]
	switch {
	case pull && len(s.Data) > 1:
		return "its services' env holds secrets and its images need credentials"
	case pull:
		return "its images need credentials"
	}
	return "its services' env holds secrets"
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
