package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxReader records the largest read asked of a log file.
type maxReader struct {
	f   *os.File
	max int
}

func (m *maxReader) ReadAt(p []byte, off int64) (int, error) {
	m.max = max(m.max, len(p))
	return m.f.ReadAt(p, off)
}

// sendLines serves lines longer than its buffer whole, holds back a line
// still being written, follows lines appended later, and never reads more
// than its buffer at once.
func TestSendLinesBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	long := strings.Repeat("L", 100)
	if err := os.WriteFile(path, []byte("a\n"+long+"\nb\npart"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &maxReader{f: f}
	buf := make([]byte, 16)
	var out strings.Builder
	off, err := sendLines(&out, r, 0, buf)
	want := fmt.Sprintf("id: 2\ndata: a\n\nid: %d\ndata: %s\n\nid: %d\ndata: b\n\n", 3+len(long), long, 5+len(long))
	if err != nil || out.String() != want || off != int64(5+len(long)) {
		t.Fatalf("first read: offset %d, %v:\n%q\nwant\n%q", off, err, out.String(), want)
	}
	// The rest of the partial line, a line longer than the buffer, one more.
	a, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	a.WriteString("-rest" + long + "\nc\n")
	a.Close()
	out.Reset()
	off, err = sendLines(&out, r, off, buf)
	end := int64(5 + len(long) + len("part-rest"+long) + 1)
	want = fmt.Sprintf("id: %d\ndata: part-rest%s\n\nid: %d\ndata: c\n\n", end, long, end+2)
	if err != nil || out.String() != want || off != end+2 {
		t.Fatalf("after appending: offset %d, %v:\n%q\nwant\n%q", off, err, out.String(), want)
	}
	if r.max > len(buf) {
		t.Fatalf("a read of %d bytes with a %d-byte buffer", r.max, len(buf))
	}
}
