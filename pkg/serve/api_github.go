package serve

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/birdflock/runner/pkg/serve/store"
	"github.com/birdflock/runner/pkg/workflow"
)

// urls makes the absolute URLs of GitHub's JSON shapes: external-url, else
// the address the request came to; api has GitHub Enterprise's /api/v3
// when the request came by it.
type urls struct {
	api, html string
	// memo keeps the shapes a request repeats (the repository and users
	// of a list of runs), encoded once: nil keeps none.
	memo map[string]json.RawMessage
}

// shape is make()'s value, encoded once per request under key.
func (u urls) shape(key string, make func() map[string]any) any {
	if u.memo == nil {
		return make()
	}
	if v, ok := u.memo[key]; ok {
		return v
	}
	data, err := json.Marshal(make())
	if err != nil {
		return make()
	}
	u.memo[key] = data
	return json.RawMessage(data)
}

func (s *Server) urlsFor(r *http.Request) urls {
	base := strings.TrimRight(s.cfg.ExternalURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	u := urls{api: base, html: base, memo: map[string]json.RawMessage{}}
	if strings.HasPrefix(r.URL.Path, "/api/v3/") {
		u.api += "/api/v3"
	}
	return u
}

func (u urls) repoAPI(full string) string { return u.api + "/repos/" + full }

// nodeID is a GraphQL-style global id: opaque, stable per object.
func nodeID(kind string, id int64) string {
	return kind + "_" + base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// repoID is a repository's numeric id: stable per name.
func repoID(full string) int64 {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(full)))
	return int64(h.Sum32()&0x7fffffff) + 1
}

// user is GitHub's simple-user shape for a login (a commit author's name
// here: the service has no accounts).
func (u urls) user(login string) any {
	if login == "" {
		login = "ghost"
	}
	return u.shape("user\x00"+login, func() map[string]any { return u.userShape(login) })
}

func (u urls) userShape(login string) map[string]any {
	api := u.api + "/users/" + url.PathEscape(login)
	return map[string]any{
		"login": login, "id": repoID("user/" + login), "node_id": nodeID("U", repoID("user/"+login)), "type": "User", "site_admin": false,
		"avatar_url": u.html + "/avatars/" + url.PathEscape(login), "gravatar_id": "", "url": api, "html_url": u.html + "/" + url.PathEscape(login),
		"followers_url": api + "/followers", "following_url": api + "/following{/other_user}", "gists_url": api + "/gists{/gist_id}",
		"starred_url": api + "/starred{/owner}{/repo}", "subscriptions_url": api + "/subscriptions", "organizations_url": api + "/orgs",
		"repos_url": api + "/repos", "events_url": api + "/events{/privacy}", "received_events_url": api + "/received_events",
	}
}

// repo is GitHub's minimal-repository shape.
func (u urls) repo(full string) any {
	return u.shape("repo\x00"+full, func() map[string]any { return u.repoShape(full) })
}

func (u urls) repoShape(full string) map[string]any {
	owner, name, _ := strings.Cut(full, "/")
	api := u.repoAPI(full)
	out := map[string]any{
		"id": repoID(full), "node_id": nodeID("R", repoID(full)), "name": name, "full_name": full, "owner": u.user(owner),
		"private": true, "fork": false, "description": nil, "url": api, "html_url": u.html + "/" + full,
	}
	for _, k := range []string{"archive_url:/{archive_format}{/ref}", "assignees_url:/assignees{/user}", "blobs_url:/git/blobs{/sha}",
		"branches_url:/branches{/branch}", "collaborators_url:/collaborators{/collaborator}", "comments_url:/comments{/number}",
		"commits_url:/commits{/sha}", "compare_url:/compare/{base}...{head}", "contents_url:/contents/{+path}",
		"contributors_url:/contributors", "deployments_url:/deployments", "downloads_url:/downloads", "events_url:/events",
		"forks_url:/forks", "git_commits_url:/git/commits{/sha}", "git_refs_url:/git/refs{/sha}", "git_tags_url:/git/tags{/sha}",
		"hooks_url:/hooks", "issue_comment_url:/issues/comments{/number}", "issue_events_url:/issues/events{/number}",
		"issues_url:/issues{/number}", "keys_url:/keys{/key_id}", "labels_url:/labels{/name}", "languages_url:/languages",
		"merges_url:/merges", "milestones_url:/milestones{/number}", "notifications_url:/notifications{?since,all,participating}",
		"pulls_url:/pulls{/number}", "releases_url:/releases{/id}", "stargazers_url:/stargazers", "statuses_url:/statuses/{sha}",
		"subscribers_url:/subscribers", "subscription_url:/subscription", "tags_url:/tags", "teams_url:/teams", "trees_url:/git/trees{/sha}"} {
		key, p, _ := strings.Cut(k, ":")
		out[key] = api + p
	}
	return out
}

// shapeCache keeps what the JSON shapes look up per run: workflow ids and
// head commits (both never change).
type shapeCache struct {
	workflows sync.Map   // repo + "\x00" + path → *store.Workflow
	wfMu      sync.Mutex // orders keeping a workflow read against forgetting it
	commits   sync.Map   // repo + "\x00" + sha → map[string]any
	runs      runCache   // completed run attempts' JSON (runcache.go)
	pages     pageCache  // rendered pages of runs (listcache.go)
}

// workflowOf is the numbered workflow of a repository's path.
func (s *Server) workflowOf(repo, path string) (*store.Workflow, error) {
	key := repo + "\x00" + path
	if wf, ok := s.shapes.workflows.Load(key); ok {
		return wf.(*store.Workflow), nil
	}
	// A write since the read began (a disable, an enable) may have
	// cleared the key after this read: the workflow read is then not
	// kept, so that the disable's Delete is never undone by an older
	// read (wfMu orders the check and keep against forgetWorkflow).
	gen := s.store.Gen()
	wf, err := s.store.Workflow(repo, path)
	if err != nil {
		return nil, err
	}
	if testHookWorkflowRead != nil {
		testHookWorkflowRead()
	}
	s.shapes.wfMu.Lock()
	if s.store.Gen() == gen {
		s.shapes.workflows.Store(key, wf)
	}
	s.shapes.wfMu.Unlock()
	return wf, nil
}

// testHookWorkflowRead, when set by a test, runs between workflowOf's
// read and its keeping the workflow read.
var testHookWorkflowRead func()

// forgetWorkflow drops the kept workflow at path of repo, after a write
// to it committed.
func (s *Server) forgetWorkflow(repo, path string) {
	s.shapes.wfMu.Lock()
	s.shapes.workflows.Delete(repo + "\x00" + path)
	s.shapes.wfMu.Unlock()
}

// headCommit is GitHub's simple-commit shape of a run's commit; nil when
// the repository does not have it (any more).
func (s *Server) headCommit(repo, sha string) any {
	key := repo + "\x00" + sha
	if c, ok := s.shapes.commits.Load(key); ok {
		return c
	}
	rp := s.repoByName(repo)
	if rp == nil || sha == "" {
		return nil
	}
	g, err := rp.open(false)
	if err != nil {
		return nil
	}
	c, err := g.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return nil
	}
	out := map[string]any{
		"id": sha, "tree_id": c.TreeHash.String(), "message": c.Message, "timestamp": c.Committer.When.UTC().Format(time.RFC3339),
		"author":    map[string]any{"name": c.Author.Name, "email": c.Author.Email},
		"committer": map[string]any{"name": c.Committer.Name, "email": c.Committer.Email},
	}
	s.shapes.commits.Store(key, out)
	return out
}

// page is the page a list call asks for: per_page (default 30, at most
// 100) and page (from 1).
type page struct{ n, size int }

func pageOf(r *http.Request) page {
	q := r.URL.Query()
	p := page{n: 1, size: 30}
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		p.size = min(n, 100)
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		// Past 2^31 every page is past the end; capped, (n-1)*size
		// cannot overflow to an offset that wraps back to page 1.
		p.n = min(n, math.MaxInt32)
	}
	return p
}

// link sets GitHub's Link header for a list of total items: next and last
// while there are pages after this one, first and prev after the first.
func (p page) link(w http.ResponseWriter, r *http.Request, u urls, total int) {
	last := max(1, (total+p.size-1)/p.size)
	at := func(n int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		q.Set("per_page", strconv.Itoa(p.size))
		return fmt.Sprintf("<%s%s?%s>", u.html, r.URL.Path, q.Encode())
	}
	var links []string
	if p.n > 1 {
		links = append(links, at(min(p.n-1, last))+`; rel="prev"`)
	}
	if p.n < last {
		links = append(links, at(p.n+1)+`; rel="next"`, at(last)+`; rel="last"`)
	}
	if p.n > 1 {
		links = append(links, at(1)+`; rel="first"`)
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
}

// dateRange reads GitHub's date-range search syntax (created=): a date or
// time, >=, >, <=, < one, or from..to with * for an open end. Dates are
// whole UTC days. It returns from (inclusive) and to (exclusive).
func dateRange(s string) (from, to time.Time, err error) {
	if s == "" {
		return
	}
	// parse returns the instant and the length of the period it names.
	parse := func(v string) (time.Time, time.Duration, error) {
		if t, err := time.Parse("2006-01-02", v); err == nil {
			return t, 24 * time.Hour, nil
		}
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, time.Second, nil
			}
		}
		return time.Time{}, 0, fmt.Errorf("created %q: %q is not a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM:SSZ)", s, v)
	}
	if a, b, ok := strings.Cut(s, ".."); ok {
		if a != "*" {
			if from, _, err = parse(a); err != nil {
				return
			}
		}
		if b != "*" {
			t, d, e := parse(b)
			if e != nil {
				return from, to, e
			}
			to = t.Add(d)
		}
		return
	}
	for _, op := range []string{">=", "<=", ">", "<", ""} {
		v, ok := strings.CutPrefix(s, op)
		if !ok {
			continue
		}
		t, d, e := parse(v)
		if e != nil {
			return from, to, e
		}
		switch op {
		case ">=":
			from = t
		case ">":
			from = t.Add(d)
		case "<=":
			to = t.Add(d)
		case "<":
			to = t
		default:
			from, to = t, t.Add(d)
		}
		return
	}
	return
}

// findWorkflow is a repository's workflow by numeric id, file name
// (build.yaml) or path, among the workflow files at its default branch;
// one known by id but gone from the branch is still found.
func (s *Server) findWorkflow(rp *repo, id string) (*store.Workflow, error) {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		wf, err := s.store.WorkflowByID(n)
		if err != nil || wf.Repo != rp.name {
			return nil, fmt.Errorf("workflow %s: %w", id, ErrNotFound)
		}
		return wf, nil
	}
	g, err := rp.open(false)
	if err != nil {
		return nil, err
	}
	_, head, err := resolve(g, rp.branch(g))
	if err != nil {
		return nil, err
	}
	wf, err := findWorkflowFile(rp, g, head, id)
	if err != nil {
		return nil, err
	}
	return s.workflowOf(rp.name, wf.Path)
}

// workflowJSON is GitHub's workflow shape.
func (s *Server) workflowJSON(u urls, wf *store.Workflow, name string) map[string]any {
	api := fmt.Sprintf("%s/actions/workflows/%d", u.repoAPI(wf.Repo), wf.ID)
	if name == "" {
		name = wf.Path
	}
	state := "active"
	if wf.Disabled {
		state = "disabled_manually"
	}
	return map[string]any{
		"id": wf.ID, "node_id": nodeID("W", wf.ID), "name": name, "path": wf.Path, "state": state,
		"created_at": timeJSON(wf.Created), "updated_at": timeJSON(wf.Created), "url": api,
		"html_url":  fmt.Sprintf("%s/%s/blob/%s", u.html, wf.Repo, wf.Path),
		"badge_url": fmt.Sprintf("%s/%s/workflows/%s/badge.svg", u.html, wf.Repo, path.Base(wf.Path)),
	}
}

// handleRepoWorkflows lists a repository's workflows at its default
// branch, each with its stable id.
func (s *Server) handleRepoWorkflows(w http.ResponseWriter, r *http.Request) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	g, err := rp.open(false)
	if err != nil {
		errorStatus(w, err)
		return
	}
	_, head, err := resolve(g, rp.branch(g))
	if err != nil {
		errorStatus(w, err)
		return
	}
	files, err := rp.workflows(g, head)
	if err != nil {
		errorStatus(w, err)
		return
	}
	u := s.urlsFor(r)
	all := []map[string]any{}
	for _, f := range files {
		wf, err := s.workflowOf(rp.name, f.Path)
		if err != nil {
			errorStatus(w, err)
			return
		}
		all = append(all, s.workflowJSON(u, wf, s.workflowName(f)))
	}
	p := pageOf(r)
	from, to := min(len(all), (p.n-1)*p.size), min(len(all), p.n*p.size)
	p.link(w, r, u, len(all))
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(all), "workflows": all[from:to]})
}

func (s *Server) handleRepoWorkflow(w http.ResponseWriter, r *http.Request) {
	rp := s.repoOf(w, r)
	if rp == nil {
		return
	}
	wf, err := s.findWorkflow(rp, r.PathValue("workflow"))
	if err != nil {
		errorStatus(w, err)
		return
	}
	name := ""
	if g, err := rp.open(false); err == nil {
		if _, head, err := resolve(g, rp.branch(g)); err == nil {
			if f, err := findWorkflowFile(rp, g, head, wf.Path); err == nil {
				name = s.workflowName(*f)
			}
		}
	}
	writeJSON(w, http.StatusOK, s.workflowJSON(s.urlsFor(r), wf, name))
}

// workflowName is a workflow file's name: its name:, else its path.
func (s *Server) workflowName(f workflowFile) string {
	wl, errs := workflow.Load(f.Path, f.Source, workflow.Options{Builtins: s.builtins, NoMatrixLegs: true})
	if len(errs) > 0 {
		return f.Path
	}
	return workflowName(wl)
}
