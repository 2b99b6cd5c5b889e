// Package containertest holds helpers for tests that need real parts: root,
// runc and buildkitd (a test fails under CI=true when one is missing and
// skips otherwise), a loopback registry seeded with the alpine stand-in,
// small OCI archives, and a look at a running runc container's cgroups and
// network namespace (Inspect). runner itself never imports it.
package containertest
