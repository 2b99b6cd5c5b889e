package containertest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const serverMain = `package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	addr := ":" + os.Getenv("PORT")
	if addr == ":" {
		addr = ":8080"
	}
	fs := http.FileServer(http.Dir("static"))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("GET", r.URL.Path)
		fs.ServeHTTP(w, r)
	})
	fmt.Println("listening on", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
`

// ServerContainerfile builds the Go static server FROM alpine:latest like
// the bird-flock back-end: WORKDIR, COPY of a static binary, EXPOSE, CMD.
// A RUN step writes the GREETING build arg into the served files.
const ServerContainerfile = `FROM alpine:latest
WORKDIR /app
COPY app /app/app
COPY static /app/static
ARG GREETING=default
RUN echo "$GREETING" > /app/static/greeting.txt
EXPOSE 8080
CMD ["./app"]
`

// ServerContext writes a build context into a new dir: a statically built
// Go HTTP server (app) serving static/ with index.html = index, and a
// Containerfile. It needs the go command.
func ServerContext(t testing.TB, index string) string {
	t.Helper()
	dir := t.TempDir()
	bin, err := os.ReadFile(serverBinary(t))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "app"), bin, 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "static"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "static", "index.html"), []byte(index), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(ServerContainerfile), 0o644))
	return dir
}

// serverBinary builds the server once per source and Go version into
// .cache/containertest of the repository (linking takes seconds).
func serverBinary(t testing.TB) string {
	t.Helper()
	h := sha256.Sum256([]byte(serverMain + runtime.Version()))
	out := filepath.Join(RepoRoot(), ".cache", "containertest", "server-"+hex.EncodeToString(h[:8]))
	if _, err := os.Stat(out); err == nil {
		return out
	}
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "main.go"), []byte(serverMain), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "go.mod"), []byte("module server\n\ngo 1.22\n"), 0o644))
	must(t, os.MkdirAll(filepath.Dir(out), 0o755))
	tmp := filepath.Join(src, "app")
	cmd := exec.Command("go", "build", "-trimpath", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=-mod=mod", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build server: %v\n%s", err, b)
	}
	b, err := os.ReadFile(tmp)
	must(t, err)
	// Write then rename: parallel test packages may race here.
	f, err := os.CreateTemp(filepath.Dir(out), ".server-*")
	must(t, err)
	_, err = f.Write(b)
	must(t, err)
	must(t, f.Chmod(0o755))
	must(t, f.Close())
	must(t, os.Rename(f.Name(), out))
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ServerImage is the Go static server on the alpine stand-in without
// BuildKit: what ServerContainerfile builds, put together directly.
func ServerImage(t testing.TB, index string) v1.Image {
	t.Helper()
	bin, err := os.ReadFile(serverBinary(t))
	must(t, err)
	return Image(t, Alpine(t), v1.Config{
		Cmd: []string{"./app"}, WorkingDir: "/app",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	}, Layer(t, Entry{Name: "app/"}, Entry{Name: "app/app", Body: string(bin), Mode: 0o755},
		Entry{Name: "app/static/"}, Entry{Name: "app/static/index.html", Body: index}))
}
