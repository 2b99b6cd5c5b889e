package container

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ct "github.com/birdflock/runner/pkg/containertest"
)

// Two running containers on port 80 with OwnAddress: each answers at port
// 80 on a loopback address of its own (and at its host port there too),
// and Destroy closes those listeners.
func TestOwnAddressPublishesTheContainerPort(t *testing.T) {
	r := newRuntime(t)
	ctx := context.Background()
	var cs []Container
	for _, body := range []string{"one", "two"} {
		archive := ct.Archive(t, ct.HTTPDImage(t, "80", body), filepath.Join(t.TempDir(), "img.tar"))
		c, err := r.Setup(ctx, Spec{Archive: archive, OwnAddress: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Destroy(ctx)
		collect(c.Logs())
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	for i, body := range []string{"one", "two"} {
		ip := cs[i].(OwnAddresser).OwnAddress()
		if !strings.HasPrefix(ip, "127.") || ip == "127.0.0.1" {
			t.Fatalf("own address %q", ip)
		}
		_, hostPort, _ := net.SplitHostPort(cs[i].Ports()[80])
		for _, url := range []string{"http://" + ip + ":80/", "http://" + ip + ":" + hostPort + "/"} {
			if code, got := get(t, url); code != 200 || got != body {
				t.Fatalf("GET %s = %d %q, want %q", url, code, got, body)
			}
		}
	}
	for _, c := range cs {
		ip := c.(OwnAddresser).OwnAddress()
		if err := c.Destroy(ctx); err != nil {
			t.Fatal(err)
		}
		if conn, err := net.DialTimeout("tcp", ip+":80", time.Second); err == nil {
			conn.Close()
			t.Errorf("%s:80 still accepts after Destroy", ip)
		}
	}
}
