package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Sweep deletes the leg pods an instance left behind: a controller killed
// with SIGKILL cannot delete its pods, so it sweeps at its next start,
// before it runs anything. Pods are found by their labels
// (LabelManagedBy and LabelInstance), never by name, and so are the
// Secrets of services' env (secret.go). It returns the names of the pods
// deleted, and secret/NAME for each Secret.
func Sweep(ctx context.Context, c *Client, instance string) ([]string, error) {
	pods := c.Set.CoreV1().Pods(c.Namespace)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: instanceSelector(instance)})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: listing the pods of %s: %w", instance, err)
	}
	var gone []string
	zero := int64(0)
	for _, p := range list.Items {
		err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil && !apierrors.IsNotFound(err) {
			return gone, fmt.Errorf("kubernetes: deleting pod %s: %w", p.Name, err)
		}
		gone = append(gone, p.Name)
	}
	secrets, err := sweepSecrets(ctx, c, instance)
	return append(gone, secrets...), err
}
