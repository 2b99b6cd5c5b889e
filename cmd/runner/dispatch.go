package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/birdflock/runner/pkg/serve"
)

func newDispatchCmd() *cobra.Command {
	var (
		server, token, repo, ref, state string
		inputs                          []string
		wait                            bool
	)
	cmd := &cobra.Command{
		Use:   "dispatch WORKFLOW",
		Short: "Queue a workflow_dispatch run on a runner serve",
		Long: `Queue a workflow_dispatch run on a runner serve. WORKFLOW is the workflow's
file name (build.yaml) or its name without extension. The token comes from
--token, else $RUNNER_TOKEN, else STATE/token.

Exit codes: 0 queued (with --wait: succeeded), 1 the run failed or was
cancelled, 2 the server refused the request.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				token = os.Getenv("RUNNER_TOKEN")
			}
			if token == "" {
				data, err := os.ReadFile(filepath.Join(state, "token"))
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("no token: pass --token or set RUNNER_TOKEN (%w)", err)}
				}
				token = strings.TrimSpace(string(data))
			}
			in, err := keyValues(inputs, false)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			server = strings.TrimSuffix(server, "/")
			if repo == "" {
				if repo, err = onlyRepo(server, token); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			body, _ := json.Marshal(map[string]any{"ref": ref, "inputs": in})
			u := fmt.Sprintf("%s/repos/%s/actions/workflows/%s/dispatches", server, repo, url.PathEscape(args[0]))
			req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			msg := apiMessage(resp)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				return &exitError{code: 2, err: fmt.Errorf("%s: %s", resp.Status, msg)}
			}
			loc := resp.Header.Get("Location")
			fmt.Fprintf(os.Stderr, "queued %s%s\n", server, strings.Replace(loc, "/api/runs/", "/runs/", 1))
			if !wait {
				return nil
			}
			return followRun(server+loc, token)
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "http://127.0.0.1:8080", "runner serve URL")
	f.StringVar(&token, "token", "", "API token (default $RUNNER_TOKEN, else STATE/token)")
	f.StringVar(&state, "state", filepath.Join(".runner", "serve"), "runner serve's state directory, for its token")
	f.StringVar(&repo, "repo", "", "owner/name (default: the server's only repository)")
	f.StringVar(&ref, "ref", "", "branch or tag (default: the repository's branch)")
	f.StringArrayVar(&inputs, "input", nil, "workflow_dispatch input K=V (repeatable)")
	f.BoolVar(&wait, "wait", false, "stream the run's log and exit with its result")
	return cmd
}

func apiMessage(resp *http.Response) string {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var m struct{ Message string }
	if json.Unmarshal(data, &m) == nil && m.Message != "" {
		return m.Message
	}
	return strings.TrimSpace(string(data))
}

// get is a GET with the API token: runner serve needs it on reads too.
func get(u, token string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return http.DefaultClient.Do(req)
}

func onlyRepo(server, token string) (string, error) {
	resp, err := get(server+"/api/repos", token)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("list repositories: %s: %s", resp.Status, apiMessage(resp))
	}
	var repos []struct {
		FullName string `json:"full_name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&repos); err != nil {
		return "", fmt.Errorf("list repositories: %w", err)
	}
	if len(repos) != 1 {
		return "", fmt.Errorf("the server watches %d repositories: pass --repo", len(repos))
	}
	return repos[0].FullName, nil
}

// followRun prints the run's live log and returns its result.
func followRun(runURL, token string) error {
	resp, err := get(runURL+"/logs?stream=1", token)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &exitError{code: 1, err: fmt.Errorf("log stream: %s: %s", resp.Status, apiMessage(resp))}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	endEvent := false
	var end struct{ Conclusion, Message string }
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "event: end":
			endEvent = true
		case strings.HasPrefix(line, "data: ") && endEvent:
			json.Unmarshal([]byte(line[6:]), &end)
		case strings.HasPrefix(line, "data: "):
			var ev serve.LogEvent
			if json.Unmarshal([]byte(line[6:]), &ev) != nil {
				continue
			}
			what := ev.Step
			if what == "" {
				what = "job " + ev.Text
			}
			switch ev.Kind {
			case "start":
				fmt.Printf("%s ▶ %s\n", ev.Job, what)
			case "end":
				if ev.Step == "" {
					what = "job"
				}
				fmt.Printf("%s %s %s (%s)\n", ev.Job, ev.Status, what, time.Duration(ev.Duration*float64(time.Millisecond)).Round(time.Millisecond))
			default:
				fmt.Printf("%s | %s\n", ev.Job, ev.Text)
			}
		}
	}
	if end.Conclusion == "" {
		return &exitError{code: 1, err: errors.New("log stream ended before the run")}
	}
	msg := ""
	if end.Message != "" {
		msg = " (" + end.Message + ")"
	}
	fmt.Fprintf(os.Stderr, "run %s%s\n", end.Conclusion, msg)
	if end.Conclusion != "success" {
		return &exitError{code: 1, err: errors.New("")}
	}
	return nil
}
