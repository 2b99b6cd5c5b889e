package kube

import "time"

// SetIdleRefillAfter sets how long after a claim a pool is refilled at
// the latest (idleRefillAfter), for a test; it returns the restore.
func SetIdleRefillAfter(d time.Duration) (restore func()) {
	old := idleRefillAfter
	idleRefillAfter = d
	return func() { idleRefillAfter = old }
}
