package serve_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/birdflock/runner/pkg/serve"
)

// deliver posts a signed push event with a delivery id.
func deliver(t *testing.T, s *testServer, secret, delivery string, payload any) (int, string) {
	t.Helper()
	body, _ := json.Marshal(payload)
	req, _ := http.NewRequest("POST", s.URL+"/webhooks/github", strings.NewReader(string(body)))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", sign(secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, out.String()
}

// A delivery that failed (commit not in the repository yet: 422) is
// handled when GitHub redelivers it; one that succeeded is not handled twice.
func TestWebhookRedeliveryAfterFailure(t *testing.T) {
	repo := birds(t, nil)
	s := start(t, serve.Config{WebhookSecret: "s3cret"}, repo, 0)
	g, err := git.PlainClone(filepath.Join(t.TempDir(), "clone"), false, &git.CloneOptions{URL: repo.dir})
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := g.Worktree()
	other := &gitRepo{dir: wt.Filesystem.Root(), g: g}
	sha := other.commit(t, "code", map[string]string{"back-end/main.go": "package main\n// v2\n"})
	payload := map[string]any{
		"ref": "refs/heads/feature", "before": "0000000000000000000000000000000000000000", "after": sha,
		"repository": map[string]any{"full_name": "mona/birds"},
		"commits":    []any{map[string]any{"modified": []string{"back-end/main.go"}}},
	}
	code, body := deliver(t, s, "s3cret", "d-retry", payload)
	must(t, code == 422, "push of a commit not in the repository: %d %s", code, body)

	// The commit arrives; GitHub redelivers the failed delivery.
	err = g.Push(&git.PushOptions{RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/feature"}})
	must(t, err == nil, "push: %v", err)
	code, body = deliver(t, s, "s3cret", "d-retry", payload)
	must(t, code == 202 && !strings.Contains(body, `"runs": []`), "redelivery after the failure: %d %s", code, body)
	code, body = deliver(t, s, "s3cret", "d-retry", payload)
	must(t, code == 200 && strings.Contains(body, "handled before"), "redelivery after the success: %d %s", code, body)
	total, _ := s.runs(t)
	must(t, total == 1, "runs: %d, want 1", total)
}

// The files a push changed come from git (before..after) when both commits
// are here: GitHub cuts commits[] to 20, so a payload may not list the
// commit that touched code. A new branch falls back to commits[].
func TestWebhookChangedFilesFromGit(t *testing.T) {
	repo := birds(t, nil)
	s := start(t, serve.Config{WebhookSecret: "s3cret"}, repo, 0)
	base := repo.commit(t, "base", map[string]string{"README.md": "hi\n"})
	repo.commit(t, "code", map[string]string{"back-end/main.go": "package main\n// 2\n"})
	k8s := repo.commit(t, "bot", map[string]string{"k8s/be.yaml": "kind: Service\n# 2\n"})
	truncated := []any{map[string]any{"modified": []string{"k8s/be.yaml"}}} // the code commit cut off
	code, body := deliver(t, s, "s3cret", "d-1", map[string]any{
		"ref": "refs/heads/main", "before": base, "after": k8s, "repository": map[string]any{"full_name": "mona/birds"}, "commits": truncated,
	})
	must(t, code == 202 && !strings.Contains(body, `"runs": []`), "push whose commits[] lacks the code commit: %d %s", code, body)
	// A new branch bot, pushed at the bot's commit.
	must(t, repo.g.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName("bot"), plumbing.NewHash(k8s))) == nil, "create branch bot")
	code, body = deliver(t, s, "s3cret", "d-2", map[string]any{
		"ref": "refs/heads/bot", "before": "0000000000000000000000000000000000000000", "after": k8s, "repository": map[string]any{"full_name": "mona/birds"}, "commits": truncated,
	})
	must(t, code == 202 && strings.Contains(body, `"runs": []`), "new branch with a k8s-only commits[]: %d %s", code, body)
}
