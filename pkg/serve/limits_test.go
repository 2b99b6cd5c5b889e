package serve_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/serve"
)

// rawPost opens a connection and sends a webhook POST's headers for a body
// of length bytes, nothing of the body yet.
func rawPost(t *testing.T, url string, length int, sig string) net.Conn {
	t.Helper()
	addr := strings.TrimPrefix(url, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /webhooks/github HTTP/1.1\r\nHost: %s\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: %s\r\nContent-Length: %d\r\n\r\n", addr, sig, length)
	return c
}

// A body trickled a byte at a time is cut off at the read timeout: the
// server closes the connection long before the body is complete.
func TestWebhookTrickleCutOff(t *testing.T) {
	s := startOpts(t, serve.Config{WebhookSecret: "s3cret"}, serve.Options{ReadTimeout: time.Second}, birds(t, nil), 0)
	c := rawPost(t, s.URL, 60, sign("s3cret", []byte("x")))
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c) // the answer, then EOF when the server closes
		close(closed)
	}()
	sent := 0
	for ; sent < 60; sent++ {
		select {
		case <-closed:
		case <-time.After(200 * time.Millisecond):
			if _, err := c.Write([]byte("x")); err != nil {
				break
			}
			continue
		}
		break
	}
	must(t, sent < 60, "the server read a body trickled over %s to its end (60 bytes, one each 200ms) without closing the connection", 60*200*time.Millisecond)
}

// Webhook bodies read before their signature is known are bounded: at
// most a few at once (others get 503 at once), each at most GitHub's 25 MB
// (413); no signature, or no secret, is refused before reading the body.
func TestWebhookUnverifiedLimits(t *testing.T) {
	s := startOpts(t, serve.Config{WebhookSecret: "s3cret"}, serve.Options{ReadTimeout: 3 * time.Second}, birds(t, nil), 0)
	post := func(body, sig string) (int, string) {
		req, _ := http.NewRequest("POST", s.URL+"/webhooks/github", strings.NewReader(body))
		req.Header.Set("X-GitHub-Event", "ping")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	big := strings.Repeat("x", 25<<20+1)
	code, body := post(big, sign("s3cret", []byte(big)))
	must(t, code == http.StatusRequestEntityTooLarge, "a signed body over 25 MB: %d %s", code, body)
	// Without Content-Length (chunked) the limit holds while reading.
	req, _ := http.NewRequest("POST", s.URL+"/webhooks/github", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("X-Hub-Signature-256", sign("s3cret", []byte(big)))
	resp, err := http.DefaultClient.Do(req)
	must(t, err == nil && resp.StatusCode == http.StatusRequestEntityTooLarge, "a chunked body over 25 MB: %v %v", err, resp)
	resp.Body.Close()
	code, _ = post("{}", "")
	must(t, code == http.StatusUnauthorized, "no signature: %d", code)

	// Four senders that never finish hold every slot: a fifth unverified
	// body is not read (503) until one of them is done.
	var held []net.Conn
	for range 4 {
		c := rawPost(t, s.URL, 1000, sign("s3cret", []byte("x")))
		c.Write([]byte("{"))
		held = append(held, c)
	}
	time.Sleep(200 * time.Millisecond) // the four are being read
	code, body = post(`{"zen":"hi"}`, sign("s3cret", []byte(`{"zen":"hi"}`)))
	must(t, code == http.StatusServiceUnavailable, "a fifth unverified body while four are read: %d %s", code, body)
	for _, c := range held {
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body = post(`{"zen":"hi"}`, sign("s3cret", []byte(`{"zen":"hi"}`)))
		if code == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	must(t, code == http.StatusOK && strings.Contains(body, "pong"), "a signed ping once the slots are free: %d %s", code, body)

	off := start(t, serve.Config{}, birds(t, nil), 0)
	c := rawPost(t, off.URL, 1000, sign("", []byte("x")))
	line, err := bufio.NewReader(c).ReadString('\n')
	must(t, err == nil && strings.Contains(line, " 401 "), "webhook without a configured secret, body not sent: %q %v", line, err)
}

// A live log stream outlives the read timeout (it has no body to read).
func TestLiveLogsOutliveReadTimeout(t *testing.T) {
	wf := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo one; sleep 2.5; echo two\n"
	s := startOpts(t, serve.Config{}, serve.Options{ReadTimeout: time.Second}, birds(t, map[string]string{".github/workflows/live.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "live.yaml", nil)
	evs := readSSE(t, fmt.Sprintf("%s/api/runs/%d/logs?stream=1", s.URL, id), "")
	last := evs[len(evs)-1]
	must(t, last.event == "end" && strings.Contains(last.data, `"conclusion":"success"`), "stream ended with %+v", last)
}

// A live log stream reads the log file with a bounded buffer: serving a
// 24 MB log allocates a small fraction of it (reading the whole file into
// memory, as before, allocated more than the log's size per reader).
func TestLiveLogsBoundedMemory(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	wf := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo small\n"
	s := start(t, serve.Config{State: state}, birds(t, map[string]string{".github/workflows/l.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "l.yaml", nil)
	s.done(t, id)
	f, err := os.OpenFile(filepath.Join(state, "logs", fmt.Sprintf("%d.jsonl", id)), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	const lines, size = 24, 1 << 20 // 24 lines of 1 MB
	for i := range lines {
		line := fmt.Sprintf(`{"kind":"line","job":"a","text":"%d-%s"}`+"\n", i, strings.Repeat("y", size-50))
		f.WriteString(line)
	}
	f.Close()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/runs/%d/logs?stream=1", s.URL, id), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// Count the big events without keeping them.
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	big, end := 0, false
	for {
		frag, err := r.ReadSlice('\n')
		line := append([]byte(nil), frag[:min(len(frag), 64)]...) // the start tells the event
		for err == bufio.ErrBufferFull {
			_, err = r.ReadSlice('\n')
		}
		if err != nil {
			break
		}
		if bytes.HasPrefix(line, []byte(`data: {"kind":"line","job":"a","text":"`)) {
			big++
		}
		end = end || bytes.HasPrefix(line, []byte("event: end"))
	}
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	must(t, big == lines && end, "stream: %d big events (want %d), end %v", big, lines, end)
	alloc := after.TotalAlloc - before.TotalAlloc
	must(t, alloc < lines*size/4, "streaming a %d MB log allocated %d MB", lines*size>>20, alloc>>20)
	t.Logf("streaming a %d MB log allocated %.1f MB", lines*size>>20, float64(alloc)/(1<<20))
}
