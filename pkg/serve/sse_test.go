package serve_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct{ id, event, data string }

func readSSE(t *testing.T, url, lastID string) []sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []sseEvent
	for _, block := range strings.Split(strings.TrimSpace(string(body)), "\n\n") {
		var ev sseEvent
		for _, line := range strings.Split(block, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "id":
				ev.id = v
			case "event":
				ev.event = v
			case "data":
				ev.data = v
			}
		}
		out = append(out, ev)
	}
	return out
}

// Every log event carries an id; a client reconnecting with Last-Event-ID
// gets only the events after it, so that no line shows twice.
func TestLiveLogsResume(t *testing.T) {
	wf := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo one; echo two; echo three\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/r.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "r.yaml", nil)
	s.done(t, id)
	url := fmt.Sprintf("%s/api/runs/%d/logs?stream=1", s.URL, id)
	all := readSSE(t, url, "")
	must(t, len(all) > 4 && all[len(all)-1].event == "end", "stream: %+v", all)
	for _, ev := range all[:len(all)-1] {
		must(t, ev.id != "" && ev.data != "", "event without an id: %+v", ev)
	}
	k := 0
	for i, ev := range all {
		if strings.Contains(ev.data, `"text":"one"`) {
			k = i
		}
	}
	must(t, k > 0, "no line one: %+v", all)
	rest := readSSE(t, url, all[k].id)
	must(t, len(rest) == len(all)-k-1, "resumed after %s: %d events, want %d: %+v", all[k].id, len(rest), len(all)-k-1, rest)
	for i, ev := range rest {
		must(t, ev == all[k+1+i], "resumed event %d: %+v, want %+v", i, ev, all[k+1+i])
	}
	// An id that is not ours starts from the beginning.
	again := readSSE(t, url, "3")
	must(t, len(again) == len(all), "bogus Last-Event-ID: %d events, want %d", len(again), len(all))
}
