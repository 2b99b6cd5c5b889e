// Package e2e holds end-to-end tests of runner against the bird-flock
// example: the real workflow on a scratch fork, the registry, the bot's
// commit, and `runner preview` seen through headless Chromium. It has no
// code of its own besides the tests.
package e2e
