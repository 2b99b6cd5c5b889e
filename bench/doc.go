// Package bench holds benchmarks that span several packages and compare
// runner with the reference tools it replaces, in one invocation.
package bench
