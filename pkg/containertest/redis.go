package containertest

import (
	"context"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/registry/baseimage"
)

// Redis is Debian's redis-server and redis-cli (package redis-server).
const Redis Part = "redis-server"

var redisImage = sync.OnceValues(func() (v1.Image, error) {
	return baseimage.Redis(context.Background(), baseimage.RedisOptions{})
})

// RedisImage is the redis:7 stand-in built from Debian's redis-server,
// redis-cli and bash (baseimage.Redis): redis-server on 6379 by default,
// and bash and redis-cli for a job container that talks to it. Built once
// per test binary.
func RedisImage(t testing.TB) v1.Image {
	t.Helper()
	Require(t, Busybox, Redis)
	img, err := redisImage()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Push pushes img to the registry at addr as repo:tag and returns the
// reference.
func Push(t testing.TB, img v1.Image, addr, repo, tag string) string {
	t.Helper()
	return PushAs(t, img, addr, repo, tag, "", "")
}

// PushAs is Push with a username and password for the registry (none
// when both are empty).
func PushAs(t testing.TB, img v1.Image, addr, repo, tag, user, password string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var o registry.Options
	if user != "" || password != "" {
		o.Credentials = []registry.Credential{{Registry: addr, Username: user, Password: password}}
	}
	if _, err := registry.New(o).Push(ctx, registry.FromImage(img), addr+"/"+repo, []string{tag}); err != nil {
		t.Fatal(err)
	}
	return addr + "/" + repo + ":" + tag
}
