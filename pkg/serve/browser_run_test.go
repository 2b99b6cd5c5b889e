package serve_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/birdflock/runner/pkg/serve"
)

// pipelineWF lists deploy before the jobs it needs (workflow order is not
// start order); test waits, so that its later steps and deploy are pending
// for a while, then fails.
const pipelineWF = `name: Pipeline
on: workflow_dispatch
jobs:
  deploy:
    needs: test
    runs-on: x
    steps:
      - name: Ship
        run: echo shipping
      - name: Announce
        run: echo announced
  build:
    runs-on: x
    steps:
      - name: Compile
        run: |
          printf '\033[31mred-text\033[0m plain\n'
          for i in $(seq 1 150); do echo "build line $i"; done
          echo "::error file=app.go,line=3::Bad thing"
          {
            echo "# Report"
            echo "<script>window.pwned = 1</script>"
            echo '<img src=x onerror="window.pwned=2">'
            echo '[click](javascript:window.pwned=3)'
            echo
            echo '| name | value |'
            echo '| --- | --- |'
            echo '| size | 42 |'
          } >> "$GITHUB_STEP_SUMMARY"
          mkdir -p out && echo bundle > out/app
      - name: Deps
        run: |
          echo "::group::Fetch deps"
          echo dep-one
          echo dep-two
          echo "::endgroup::"
          echo after-the-group
      - uses: actions/upload-artifact@v4
        with:
          name: bundle
          path: out/
  test:
    needs: build
    runs-on: x
    steps:
      - name: Wait
        run: sleep 4
      - name: Fails
        run: exit 1
      - name: Never
        run: echo never
`

// The run page: jobs in workflow order with every step (pending ones
// too), the job graph, annotations, the job summary as sanitized
// Markdown, artifacts, buttons that follow the run's state, the attempts
// switcher; logs with line numbers, timestamps, ANSI colours, collapsed
// groups, search and deep links to a line.
func TestBrowserRunPage(t *testing.T) {
	b := newBrowser(t)
	s := start(t, serve.Config{Capacity: 2}, birds(t, map[string]string{".github/workflows/pipeline.yaml": pipelineWF}), 0)
	id, resp, body := s.dispatch(t, "pipeline.yaml", nil)
	must(t, resp.StatusCode == 204, "dispatch: %s %s", resp.Status, body)
	str := func(js string) string { t.Helper(); return eval[string](b, js, js) }
	strs := func(js string) []string { t.Helper(); return eval[[]string](b, js, js) }
	num := func(js string) int { t.Helper(); return eval[int](b, js, js) }
	b.signIn(fmt.Sprintf("%s/runs/%d", s.URL, id))

	// While test waits: its later steps and deploy's steps are shown,
	// pending; deploy comes first, as in the workflow.
	b.poll("test job waiting", `document.querySelector('.job[data-job="test"] details.step[data-state="in_progress"]') !== null`, 30*time.Second)
	b.poll("pending steps", `document.querySelectorAll('.job[data-job="deploy"] details.step[data-state="pending"]').length === 2`, 5*time.Second)
	pending := strs(`[...document.querySelectorAll('.job[data-job="test"] details.step[data-state="pending"] .name')].map(e => e.textContent)`)
	must(t, strings.Join(pending, ",") == "Fails,Never", "test's pending steps %v, want Fails, Never", pending)
	must(t, str(`document.querySelector('#cancel').disabled ? 'off' : 'on'`) == "on", "Cancel disabled on a run in progress")
	b.shot("run-in-progress")
	b.poll("run failed", `document.querySelector('#run-status').dataset.state === 'failure'`, 30*time.Second)
	b.poll("log complete", `document.body.dataset.logs === 'done'`, 10*time.Second)
	order := strs(`[...document.querySelectorAll('#jobs .job')].map(e => e.dataset.job)`)
	must(t, strings.Join(order, ",") == "deploy,build,test", "jobs in order %v, want the workflow's deploy, build, test", order)
	steps := strs(`[...document.querySelectorAll('.job[data-job="test"] details.step')].map(e => e.querySelector('.name').textContent + ':' + e.dataset.state)`)
	must(t, strings.Join(steps, ",") == "Wait:success,Fails:failure,Never:skipped", "test's steps %v", steps)
	dur := str(`document.querySelector('.job[data-job="test"] details.step .dur').textContent`)
	secs, err := strconv.ParseFloat(strings.TrimSuffix(dur, "s"), 64)
	must(t, err == nil && secs >= 4, "Wait's duration %q, want its real 4s or more", dur)
	graph := strs(`[...document.querySelectorAll('.graph .node')].map(n => n.dataset.node + ':' + n.dataset.state)`)
	must(t, strings.Join(graph, ",") == "build:success,test:failure,deploy:skipped" && num(`document.querySelectorAll('.graph svg.edges line').length`) == 2,
		"graph %v with %d edges", graph, num(`document.querySelectorAll('.graph svg.edges line').length`))

	// Annotations, artifacts and the job summary.
	b.poll("artifacts", `document.querySelectorAll('#artifacts a[data-artifact="bundle"]').length === 1`, 10*time.Second)
	ann := str(`document.querySelector('#annotations').textContent`)
	must(t, strings.Contains(ann, "app.go#L3") && strings.Contains(ann, "Bad thing") && strings.Contains(ann, "build"), "annotations: %q", ann)
	zip, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(async () => { const r = await fetch(document.querySelector('#artifacts a').href, {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('runner-token')}}); const b = new Uint8Array(await r.arrayBuffer()); return r.status + ':' + String.fromCharCode(b[0], b[1]); })()`, chromedp.EvalAwaitPromise))
	b.check("artifact download", err)
	must(t, zip == "200:PK", "artifact download: %q, want a zip", zip)
	b.poll("summary", `document.querySelector('#step-summary h1')?.textContent === 'Report'`, 10*time.Second)
	must(t, num(`document.querySelectorAll('#step-summary table td').length`) == 2, "summary table not rendered: %s", str(`document.querySelector('#step-summary').innerHTML`))
	unsafe := str(`[document.querySelectorAll('#step-summary script, #step-summary img, #step-summary [onerror]').length, typeof window.pwned, [...document.querySelectorAll('#step-summary a')].map(a => a.getAttribute('href')).join(' ')].join('|')`)
	must(t, unsafe == "0|undefined|", "summary not sanitized (elements|window.pwned|links): %q\n%s", unsafe, str(`document.querySelector('#step-summary').innerHTML`))

	// Buttons: a failed, completed run can be re-run, failed jobs too,
	// not cancelled.
	buttons := func() string {
		return str(`['#cancel', '#rerun', '#rerun-failed'].map(s => document.querySelector(s).disabled ? 'off' : 'on').join(',')`)
	}
	must(t, buttons() == "off,on,on", "buttons on a failed run (cancel, re-run, re-run failed): %s", buttons())

	// Logs: line numbers per job, ANSI colours, timestamps on demand,
	// collapsed groups, search.
	build := `.job[data-job="build"] `
	first := str(`document.querySelector('` + build + `.line').textContent`)
	must(t, strings.HasPrefix(first, "1") && strings.Contains(first, "red-text plain") && !strings.Contains(first, "\x1b"), "first line %q", first)
	red := str(`getComputedStyle([...document.querySelectorAll('` + build + `.line .ansi')].find(e => e.textContent === 'red-text')).color`)
	must(t, red == "rgb(241, 76, 76)", "red-text's colour %q", red)
	tsShown := `getComputedStyle(document.querySelector('` + build + `.line .ts')).display !== 'none'`
	must(t, str(tsShown+` ? 'shown' : 'hidden'`) == "hidden", "timestamps shown before asked for")
	b.do("timestamps", chromedp.Click(`#timestamps`))
	b.poll("timestamps shown", tsShown+` && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/.test(document.querySelector('`+build+`.line .ts').textContent)`, 5*time.Second)
	group := build + `details.group`
	must(t, str(`document.querySelector('`+group+` summary').textContent`) != "" && str(`document.querySelector('`+group+`').open ? 'open' : 'closed'`) == "closed",
		"group %q not collapsed", str(`document.querySelector('`+group+` summary').textContent`))
	shown := `[...document.querySelectorAll('` + build + `.line')].find(l => l.textContent.includes('dep-one')).checkVisibility()`
	must(t, str(shown+` ? "shown" : "hidden"`) == "hidden", "dep-one shown in a collapsed group")
	after := `[...document.querySelectorAll('` + build + `.line')].find(l => l.textContent.includes('after-the-group')).checkVisibility()`
	must(t, str(after+` ? "shown" : "hidden"`) == "shown", "the line after ::endgroup:: is hidden in the collapsed group")
	b.do("open group", chromedp.Click(group+` > summary .tx`))
	b.poll("group opened", shown, 5*time.Second)
	b.do("search", chromedp.SendKeys(`#search`, "build line 137"))
	b.poll("search finds the line", `document.querySelector('#search-info').textContent === '1 match' && document.querySelector('.line.match.current')?.textContent.includes('build line 137')`, 5*time.Second)
	b.shot("run-failed")

	// Deep link: the job page scrolls to line 140 and highlights it.
	jobID := num(`Number(document.querySelector('.job[data-job="build"]').id.replace('job-', ''))`)
	b.do("deep link", chromedp.Navigate(fmt.Sprintf("%s/runs/%d/jobs/%d#L140", s.URL, id, jobID)))
	b.poll("line 140 highlighted in view", `(() => { const l = document.getElementById('L140'); if (!l || !l.classList.contains('highlight')) return false;
		const r = l.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()`, 10*time.Second)
	line := str(`document.getElementById('L140').textContent`)
	must(t, strings.Contains(line, "build line 139") && num(`document.querySelectorAll('.job:not([hidden])').length`) == 1, "line 140 %q (want build line 139, after the red line)", line)
	b.shot("job-deep-link")

	// Re-run the failed jobs: attempt 2; attempt 1 stays reachable.
	b.do("run page", chromedp.Navigate(fmt.Sprintf("%s/runs/%d", s.URL, id)), chromedp.WaitVisible(`#rerun-failed`))
	b.poll("buttons", `!document.querySelector('#rerun-failed').disabled`, 10*time.Second)
	b.do("re-run failed", chromedp.Click(`#rerun-failed`))
	b.poll("attempt 2", `document.querySelector('#title').textContent.includes('attempt 2') && document.querySelector('#run-status').dataset.state === 'failure'`, 40*time.Second)
	opts := strs(`[...document.querySelectorAll('#attempts option')].map(o => o.textContent)`)
	must(t, len(opts) == 2 && strings.HasPrefix(opts[0], "#2") && strings.HasPrefix(opts[1], "#1 · Failure"), "attempts %v", opts)
	eval[bool](b, "switch to attempt 1", `(() => { const s = document.querySelector('#attempts'); s.value = '1'; return s.dispatchEvent(new Event('change')); })()`)
	b.poll("attempt 1 shown", `location.search === '?attempt=1' && document.querySelector('#title').textContent === 'Pipeline #`+strconv.Itoa(id)+`'`, 10*time.Second)
	must(t, buttons() == "off,off,off", "buttons on an earlier attempt: %s, want all off", buttons())
}

// Re-run failed jobs is off on a run that succeeded; without the token
// (public-read) every button is off.
func TestBrowserRunButtons(t *testing.T) {
	b := newBrowser(t)
	s := start(t, serve.Config{PublicRead: true}, birds(t, map[string]string{".github/workflows/ui.yaml": uiWF}), 0)
	id, _, _ := s.dispatch(t, "ui.yaml", nil)
	s.done(t, id)
	buttons := `['#cancel', '#rerun', '#rerun-failed'].map(s => document.querySelector(s).disabled ? 'off' : 'on').join(',')`
	b.do("anonymous", chromedp.Navigate(fmt.Sprintf("%s/runs/%d", s.URL, id)))
	b.poll("run shown", `document.querySelector('#run-status')?.dataset.state === 'success'`, 10*time.Second)
	got := eval[string](b, "buttons", buttons)
	title := eval[string](b, "title", `document.querySelector('#rerun').title`)
	must(t, got == "off,off,off" && strings.Contains(title, "Sign in"), "buttons without the token: %s (%q), want all off", got, title)
	b.shot("run-anonymous")
	b.signIn(fmt.Sprintf("%s/runs/%d", s.URL, id))
	b.poll("signed in buttons", buttons+` === 'off,on,off'`, 10*time.Second)
	title = eval[string](b, "title", `document.querySelector('#rerun-failed').title`)
	must(t, title == "No job failed", "re-run failed's title %q", title)
}

// A job restored from the job cache (docs/cache.md) is marked cached in
// the graph and in its heading; the job that ran is not.
func TestBrowserCachedJob(t *testing.T) {
	b := newBrowser(t)
	wf := "name: Cached\non: workflow_dispatch\njobs:\n  build:\n    runs-on: x\n    env:\n      RUNNER_CACHE: 'paths: back-end/**'\n" +
		"    steps:\n      - run: echo built\n  after:\n    needs: build\n    runs-on: x\n    steps:\n      - run: echo after\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/cache.yaml": wf}), 0)
	first, _, _ := s.dispatch(t, "cache.yaml", nil)
	s.done(t, first)
	second, _, _ := s.dispatch(t, "cache.yaml", nil)
	s.done(t, second)
	b.signIn(fmt.Sprintf("%s/runs/%d", s.URL, second))
	b.poll("graph", `document.querySelectorAll('.graph .node[data-state="success"]').length === 2`, 10*time.Second)
	got := eval[[]string](b, "cached", `[...document.querySelectorAll('.graph .node')].map(n => n.dataset.node + ':' + n.classList.contains('cached')).concat(
		[...document.querySelectorAll('#jobs .job')].map(j => j.dataset.job + ':' + !!j.querySelector('h3 .cached-badge')))`)
	must(t, strings.Join(got, ",") == "build:true,after:false,build:true,after:false", "cached marks (graph, then headings): %v", got)
	step := eval[string](b, "step", `document.querySelector('.job[data-job="build"] details.step .name').textContent`)
	must(t, strings.HasPrefix(step, fmt.Sprintf("Restored from the job cache (run %d, key ", first)), "build's step %q", step)
	b.shot("run-cached")
}

// A deep link on the page of a job that is not the run's first highlights
// the line of that job, not the line with the same number of a job the
// page hides.
func TestBrowserDeepLinkSecondJob(t *testing.T) {
	b := newBrowser(t)
	wf := "name: Two\non: workflow_dispatch\njobs:\n" +
		"  first:\n    runs-on: x\n    steps:\n      - run: for i in 1 2 3 4 5; do echo first line $i; done\n" +
		"  second:\n    needs: first\n    runs-on: x\n    steps:\n      - run: for i in 1 2 3 4 5; do echo second line $i; done\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/two.yaml": wf}), 0)
	id, resp, body := s.dispatch(t, "two.yaml", nil)
	must(t, resp.StatusCode == 204, "dispatch: %s %s", resp.Status, body)
	s.done(t, id)
	b.signIn(fmt.Sprintf("%s/runs/%d", s.URL, id))
	b.poll("log complete", `document.body.dataset.logs === 'done' && !!document.querySelector('.job[data-job="second"]')?.id`, 20*time.Second)
	jobID := eval[int](b, "second's id", `Number(document.querySelector('.job[data-job="second"]').id.replace('job-', ''))`)
	b.do("deep link", chromedp.Navigate(fmt.Sprintf("%s/runs/%d/jobs/%d#L3", s.URL, id, jobID)))
	b.poll("a line highlighted", `document.body.dataset.logs === 'done' && document.querySelectorAll('.line.highlight').length > 0`, 20*time.Second)
	got := eval[string](b, "highlighted", `[...document.querySelectorAll('.line.highlight')].map(l => (l.closest('.job').hidden ? 'hidden ' : '') + l.querySelector('.tx').textContent).join('|')`)
	must(t, got == "second line 3", "highlighted lines %q, want second's line 3 only", got)
	anchor := eval[string](b, "#L3", `(() => { const l = document.getElementById('L3'); return l ? l.closest('.job').dataset.job : ''; })()`)
	must(t, anchor == "second", "the element #L3 is in job %q, want second", anchor)
}

// A run page whose run cannot be read (no token, no such run, no such job)
// leaves every button off and says why, instead of offering actions on
// nothing.
func TestBrowserRunPageUnreadable(t *testing.T) {
	b := newBrowser(t)
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/ui.yaml": uiWF}), 0)
	id, _, _ := s.dispatch(t, "ui.yaml", nil)
	s.done(t, id)
	buttons := `['#cancel', '#rerun', '#rerun-failed'].map(s => document.querySelector(s).disabled ? 'off' : 'on').join(',')`
	b.do("without the token", chromedp.Navigate(fmt.Sprintf("%s/runs/%d", s.URL, id)))
	b.poll("login asked", `!document.querySelector('#login').hidden`, 10*time.Second)
	got := eval[string](b, "buttons", buttons)
	must(t, got == "off,off,off", "buttons without the token (no public-read): %s, want all off", got)
	b.signIn(fmt.Sprintf("%s/runs/%d", s.URL, id+1000))
	b.poll("not found said", `document.querySelector('#action-msg').textContent.includes('not found')`, 10*time.Second)
	got = eval[string](b, "buttons", buttons)
	must(t, got == "off,off,off", "buttons on a run that does not exist: %s, want all off", got)
	b.do("unknown job", chromedp.Navigate(fmt.Sprintf("%s/runs/%d/jobs/999999", s.URL, id)))
	b.poll("job not found said", `document.querySelector('#action-msg').textContent.includes('not found')`, 10*time.Second)
	got = eval[string](b, "buttons", buttons)
	must(t, got == "off,off,off", "buttons on a job that does not exist: %s, want all off", got)
}
