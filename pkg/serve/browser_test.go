package serve_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/birdflock/runner/pkg/serve"
	"github.com/birdflock/runner/pkg/testenv"
)

func chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Missing(t, "chromium is not installed; apt-get install chromium")
	return ""
}

const uiWF = `name: UI demo
on:
  workflow_dispatch:
    inputs:
      level:
        type: choice
        options: [low, high]
        default: low
      loud:
        type: boolean
      who:
        type: string
        default: nobody
jobs:
  build:
    runs-on: x
    steps:
      - name: Greet
        run: echo "line-one ${{ inputs.level }} ${{ inputs.loud }} ${{ inputs.who }}"; sleep 1.5; echo line-two
  test:
    needs: build
    runs-on: x
    steps:
      - run: echo tested
`

// browserT is a headless Chromium driven by chromedp for one test.
type browserT struct {
	t   testing.TB
	ctx context.Context
}

func newBrowser(t testing.TB) *browserT {
	t.Helper()
	exe := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(func() { cancelT(); cancel(); cancelA() })
	return &browserT{t: t, ctx: ctx}
}

func (b *browserT) check(what string, err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// do runs actions, failing the test on an error.
func (b *browserT) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.check(what, chromedp.Do(b.ctx, actions...))
}

// eval evaluates js in the page.
func eval[T any](b *browserT, what, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	b.check(what, err)
	return v
}

// poll waits for js to be true; a navigation meanwhile (the page's
// execution context goes away) restarts it.
func (b *browserT) poll(what, js string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil || time.Now().After(deadline) || b.ctx.Err() != nil {
			b.check(what, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shot writes a screenshot of the whole page to shotDir()/name.png.
func (b *browserT) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	b.check("screenshot "+name, err)
	dir := shotDir(b.t)
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", p)
}

// shotDir is where the browser tests' screenshots go: $RUNNER_UI_SHOTS, or
// runner-ui-shots in the system's temp dir (kept after the test, to look
// at).
func shotDir(t testing.TB) string {
	dir := os.Getenv("RUNNER_UI_SHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "runner-ui-shots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// signIn opens url and signs in with the token through the login form.
func (b *browserT) signIn(url string) {
	b.t.Helper()
	b.do("sign in", chromedp.Navigate(url), chromedp.WaitVisible(`#login`), chromedp.SetValue(`#token`, token),
		chromedp.Click(`#login button[type="submit"]`))
	b.poll("signed in", `!!sessionStorage.getItem('runner-token') && document.querySelector('#login').hidden`, 10*time.Second)
}

// The web UI in headless Chromium: dispatch from the generated form, see
// the log lines arrive live on the run page, see the run finish green.
func TestBrowserUI(t *testing.T) {
	b := newBrowser(t)
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/ui.yaml": uiWF}), 0)
	ctx := b.ctx
	check, poll := b.check, b.poll

	form := `form[data-workflow="ui.yaml"]`
	// Without the token the page asks for it and shows no data; a wrong
	// one is refused.
	check("login form", chromedp.Do(ctx,
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(`#login`),
		chromedp.SetValue(`#token`, "wrong"),
		chromedp.Click(`#login button[type="submit"]`),
	))
	poll("wrong token refused", `document.querySelector('#login-msg').textContent === 'Bad credentials'`, 5*time.Second)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#runs tbody tr, form.dispatch').length`))
	check("no data without the token", err)
	must(t, n == 0, "%d runs or forms shown without the token", n)
	check("sign in", chromedp.Do(ctx,
		chromedp.SetValue(`#token`, token),
		chromedp.Click(`#login button[type="submit"]`),
	))
	check("fill the dispatch form", chromedp.Do(ctx,
		chromedp.WaitVisible(form+` select[name="level"]`),
		chromedp.SetValue(form+` select[name="level"]`, "high"),
		chromedp.Click(form+` input[name="loud"]`),
		chromedp.SetValue(form+` input[name="who"]`, "mona"),
		chromedp.Click(form+` button[type="submit"]`),
		chromedp.WaitVisible(`#run-status`),
	))
	runURL, err := chromedp.Run(ctx, chromedp.Location())
	check("location", err)
	must(t, strings.Contains(runURL, "/runs/"), "after dispatch the page is %s", runURL)
	// Live: the first line is shown while the run is still in progress.
	poll("first log line", `(document.querySelector('details.step .log') || {}).textContent?.includes('line-one') || false`, 20*time.Second)
	status, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#run-status').dataset.state`))
	check("status", err)
	must(t, status == "in_progress" || status == "queued", "status while line-one was shown: %q (want the log live)", status)
	poll("run success", `document.querySelector('#run-status').dataset.state === 'success'`, 20*time.Second)
	poll("graph", `document.querySelectorAll('.graph .node.success').length === 2 && document.querySelectorAll('.graph svg.edges line').length === 1`, 5*time.Second)
	log, err := chromedp.Run(ctx, chromedp.Text(`#jobs`))
	check("log text", err)
	must(t, strings.Contains(log, "line-one high true mona") && strings.Contains(log, "line-two") && strings.Contains(log, "tested") &&
		strings.Contains(log, "build") && strings.Contains(log, "Greet"), "run page log:\n%s", log)
	b.shot("ui-run")

	// The token is in this tab's sessionStorage only: not in the URL, a
	// cookie or localStorage.
	where, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[location.href, document.cookie, String(localStorage.getItem('runner-token')), sessionStorage.getItem('runner-token')]`))
	check("token storage", err)
	must(t, !strings.Contains(where[0], token) && where[1] == "" && where[2] == "null" && where[3] == token, "token kept as: url %q cookie %q localStorage %q sessionStorage %q", where[0], where[1], where[2], where[3])

	// Re-run from the run page: the run's page shows its new attempt (a
	// re-run keeps the run id, as on GitHub), which succeeds.
	check("re-run", chromedp.Do(ctx, chromedp.Click(`#rerun`)))
	poll("re-run page", `location.pathname === '`+runURL[strings.Index(runURL, "/runs/"):]+`' && (document.querySelector('#title') || {}).textContent?.includes('attempt 2') || false`, 10*time.Second)
	poll("re-run success", `document.querySelector('#run-status').dataset.state === 'success'`, 20*time.Second)

	// The runs list shows the first run, green.
	id := runURL[strings.LastIndex(runURL, "/")+1:]
	check("runs list", chromedp.Do(ctx,
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(fmt.Sprintf(`tr[data-run="%s"] .status`, id)),
	))
	row, err := chromedp.Run(ctx, chromedp.Text(fmt.Sprintf(`tr[data-run="%s"]`, id)))
	check("runs list row", err)
	must(t, strings.Contains(row, "UI demo") && strings.Contains(row, "Success"), "runs list row: %q", row)
}
