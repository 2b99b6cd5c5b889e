package serve_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/birdflock/runner/pkg/serve"
	"github.com/birdflock/runner/pkg/testenv"
)

// branchCommit makes a new branch with one commit by author on it, then
// checks main out again.
func (r *gitRepo) branchCommit(t testing.TB, branch, author string) {
	t.Helper()
	wt, err := r.g.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(branch), Create: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Commit("by "+author, &git.CommitOptions{AllowEmptyCommits: true,
		Author: &object.Signature{Name: author, Email: strings.ToLower(author) + "@example.com", When: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName("main")}); err != nil {
		t.Fatal(err)
	}
}

// The runs list as GitHub's Actions tab: a workflow sidebar, status,
// branch, actor and event filters applied by the server, pages of 50 past
// the first, real durations and human statuses.
func TestBrowserRunsList(t *testing.T) {
	b := newBrowser(t)
	repo := birds(t, map[string]string{
		".github/workflows/ok.yaml":   "name: Quick\non: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n",
		".github/workflows/bad.yaml":  "name: Breaks\non: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: exit 1\n",
		".github/workflows/slow.yaml": "name: Slow\non: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: sleep 1.2\n",
	})
	repo.branchCommit(t, "feature", "Octo")
	s := start(t, serve.Config{Capacity: 4}, repo, 0)
	slow, _, _ := s.dispatch(t, "slow.yaml", nil)
	for range 50 {
		s.dispatch(t, "ok.yaml", nil)
	}
	for range 3 {
		s.dispatch(t, "bad.yaml", nil)
	}
	for range 2 {
		resp, body := do(t, "POST", s.URL+"/repos/mona/birds/actions/workflows/ok.yaml/dispatches", token, map[string]any{"ref": "feature"})
		must(t, resp.StatusCode == 204, "dispatch on feature: %s %s", resp.Status, body)
	}
	const total = 56
	testenv.Eventually(t, 120*time.Second, func() bool {
		var q struct {
			Total int `json:"total_count"`
		}
		getJSON(t, s.URL+"/api/runs?status=completed", &q)
		return q.Total == total
	}, "%d runs completed", total)

	rows := func() []string {
		t.Helper()
		return eval[[]string](b, "rows", `[...document.querySelectorAll('#runs tbody tr[data-run]')].map(r => r.dataset.run)`)
	}
	text := func(sel string) string {
		t.Helper()
		return eval[string](b, sel, `(document.querySelector(`+strconv.Quote(sel)+`) || {}).textContent || ''`)
	}
	listed := func(n int) string {
		return fmt.Sprintf(`document.querySelectorAll('#runs tbody tr[data-run]').length === %d`, n)
	}

	b.signIn(s.URL + "/")
	b.poll("first page", listed(50), 10*time.Second)
	must(t, text("#count") == "56 workflow runs" && text("#page-info") == "Page 1 of 2", "count %q, pages %q", text("#count"), text("#page-info"))
	first := rows()
	must(t, first[0] == strconv.Itoa(total), "newest first: the first row is run %s, want %d", first[0], total)
	// Statuses are words, not the API's values; the slow run's duration
	// is its real one.
	labels := eval[[]string](b, "labels", `[...new Set([...document.querySelectorAll('#runs tbody .status .label')].map(e => e.textContent))].sort()`)
	must(t, strings.Join(labels, ",") == "Failure,Success", "status labels %v, want Failure and Success", labels)
	b.do("page 2", chromedp.Navigate(s.URL+"/?page=2"))
	b.poll("second page", listed(6), 10*time.Second)
	b.shot("list-page2")
	second := rows()
	must(t, strings.Join(second, ",") == "6,5,4,3,2,1" && text("#page-info") == "Page 2 of 2", "page 2 rows %v (%q), want runs 6..1", second, text("#page-info"))
	dur := text(fmt.Sprintf(`tr[data-run="%d"] td.duration`, slow))
	secs, err := strconv.ParseFloat(strings.TrimSuffix(dur, "s"), 64)
	must(t, err == nil && secs >= 1.2 && secs < 30, "slow run's duration %q, want its real 1.2s or more", dur)
	b.do("previous page", chromedp.Click(`#prev`))
	b.poll("back on page 1", listed(50)+` && document.querySelector('#prev').disabled`, 10*time.Second)

	// Each filter goes to the server's list call and narrows the list.
	filter := func(field, value string, want int) {
		t.Helper()
		b.do("filter "+field, chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(`#filters`))
		b.poll("list", `document.querySelectorAll('#runs tbody tr[data-run]').length > 0`, 10*time.Second)
		b.do("set "+field, chromedp.SetValue(`#filters [name="`+field+`"]`, value), chromedp.Click(`#filters button[type="submit"]`))
		b.poll(fmt.Sprintf("%s=%s lists %d", field, value, want), `location.search.includes('`+field+`=') && `+listed(min(want, 50))+
			` && document.querySelector('#count').textContent === '`+fmt.Sprintf("%d workflow run", want)+map[bool]string{true: "", false: "s"}[want == 1]+`'`, 10*time.Second)
	}
	filter("status", "failure", 3)
	got := eval[[]string](b, "states", `[...document.querySelectorAll('#runs tbody .status')].map(e => e.dataset.state)`)
	must(t, strings.Join(got, ",") == "failure,failure,failure", "status=failure lists %v", got)
	b.shot("list-failure")
	filter("branch", "feature", 2)
	branches := eval[[]string](b, "branches", `[...document.querySelectorAll('#runs tbody td.branch')].map(e => e.textContent)`)
	must(t, strings.Join(branches, ",") == "feature,feature", "branch=feature lists branches %v", branches)
	filter("actor", "Octo", 2)
	filter("event", "workflow_dispatch", total)
	b.do("filter event push", chromedp.SetValue(`#filters [name="event"]`, "push"), chromedp.Click(`#filters button[type="submit"]`))
	b.poll("event=push lists none", `location.search.includes('event=push') && document.querySelector('#count').textContent === '0 workflow runs'`, 10*time.Second)

	// The sidebar lists the workflows; one lists its runs only.
	b.do("sidebar", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(`#sidebar a[data-workflow="bad.yaml"]`),
		chromedp.Click(`#sidebar a[data-workflow="bad.yaml"]`))
	b.poll("workflow's runs", `location.search.includes('workflow=bad.yaml') && `+listed(3), 10*time.Second)
	b.poll("workflow's title", `document.querySelector('#list-title').textContent === 'Breaks' && document.querySelector('#sidebar a.current')?.textContent === 'Breaks'`, 10*time.Second)
	b.shot("list-workflow")
}

// The dispatch form sends every input, also those named like a property
// of the form's element list (length, item, namedItem).
func TestBrowserDispatchInputNames(t *testing.T) {
	b := newBrowser(t)
	wf := "name: Names\non:\n  workflow_dispatch:\n    inputs:\n" +
		"      length:\n        type: string\n        required: true\n" +
		"      item:\n        type: string\n        required: true\n" +
		"jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo \"got ${{ inputs.length }} ${{ inputs.item }}\"\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/names.yaml": wf}), 0)
	b.signIn(s.URL + "/")
	form := `form[data-workflow="names.yaml"]`
	b.do("dispatch", chromedp.WaitVisible(form+` input[name="length"]`),
		chromedp.SetValue(form+` input[name="length"]`, "7"),
		chromedp.SetValue(form+` input[name="item"]`, "apple"),
		chromedp.Click(form+` button[type="submit"]`))
	b.poll("dispatched", `location.pathname.startsWith('/runs/') || document.querySelector('`+form+` .msg').textContent !== ''`, 20*time.Second)
	msg := eval[string](b, "message", `location.pathname.startsWith('/runs/') ? '' : document.querySelector('`+form+` .msg').textContent`)
	must(t, msg == "", "dispatch refused: %s", msg)
	b.poll("run done", `document.querySelector('#run-status')?.dataset.state === 'success' && document.body.dataset.logs === 'done'`, 30*time.Second)
	log := eval[string](b, "log", `document.querySelector('#jobs').textContent`)
	must(t, strings.Contains(log, "got 7 apple"), "log without the inputs: %s", log)
}
