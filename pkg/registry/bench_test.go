package registry

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// BenchmarkPush pushes a 3×1 MiB image with two tags to the on-disk
// registry: "new" uploads every blob, "unchanged" finds them all there.
func BenchmarkPush(b *testing.B) {
	ctx := context.Background()
	s, err := Serve(ctx, "127.0.0.1:0", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := New(Options{})
	img, err := random.Image(1<<20, 3)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("new", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			fresh, _ := random.Image(1<<20, 3)
			b.StartTimer()
			if _, err := c.Push(ctx, FromImage(fresh), fmt.Sprintf("%s/bench/new%d", s.Addr(), i), []string{"latest", "sha"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	if _, err := c.Push(ctx, FromImage(img), s.Addr()+"/bench/same", []string{"latest", "sha"}); err != nil {
		b.Fatal(err)
	}
	b.Run("unchanged", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := New(Options{}).Push(ctx, FromImage(img), s.Addr()+"/bench/same", []string{"latest", "sha"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
