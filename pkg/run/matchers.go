package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// Problem matchers, as GitHub's runner has them (IssueMatcher.cs,
// OutputManager.cs): ::add-matcher::FILE registers the matchers of a JSON
// file for the rest of the job, ::remove-matcher owner=OWNER:: drops one.
// Each output line that is not a workflow command is tried against the
// matchers, newest first; the first that matches makes an annotation as
// ::error/::warning/::notice would, and the line is still printed.

// parseLegacyMatcherCommand recognises the older form of the matcher
// commands, which actions/setup-go, setup-node and setup-python print:
// ##[add-matcher]FILE and ##[remove-matcher owner=OWNER] (properties
// separated by ";"). Unlike GitHub's runner, which finds "##[" anywhere in
// a line (and so obeys text a step merely prints), it must start the line,
// as ::name:: does; only these two commands are taken in this form.
func parseLegacyMatcherCommand(line string) (command, bool) {
	s, ok := strings.CutPrefix(strings.TrimLeft(line, " \t"), "##[")
	if !ok {
		return command{}, false
	}
	head, data, ok := strings.Cut(s, "]")
	if !ok {
		return command{}, false
	}
	name, props, _ := strings.Cut(head, " ")
	if name != "add-matcher" && name != "remove-matcher" {
		return command{}, false
	}
	c := command{Name: name, Value: legacyUnescaper.Replace(strings.TrimRight(data, "\r"))}
	for _, kv := range strings.Split(props, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" && v != "" {
			if c.Props == nil {
				c.Props = map[string]string{}
			}
			c.Props[k] = legacyUnescaper.Replace(v)
		}
	}
	return c, true
}

var legacyUnescaper = strings.NewReplacer("%3B", ";", "%0D", "\r", "%0A", "\n", "%5D", "]", "%25", "%")

// matcher fields, in the order of issueMatch.
const (
	mFile = iota
	mLine
	mColumn
	mSeverity
	mCode
	mMessage
	mFromPath
	mFields
)

var matcherFieldNames = [mFields]string{"file", "line", "column", "severity", "code", "message", "fromPath"}

// matcherFile is the JSON of a problem matcher file.
type matcherFile struct {
	ProblemMatcher []*matcherConfig `json:"problemMatcher"`
}

type matcherConfig struct {
	Owner    string           `json:"owner"`
	Severity string           `json:"severity"`
	Pattern  []*patternConfig `json:"pattern"`

	res []*regexp.Regexp // compiled Pattern[i].Regexp
}

type patternConfig struct {
	Regexp   string `json:"regexp"`
	File     *int   `json:"file"`
	Line     *int   `json:"line"`
	Column   *int   `json:"column"`
	Severity *int   `json:"severity"`
	Code     *int   `json:"code"`
	Message  *int   `json:"message"`
	FromPath *int   `json:"fromPath"`
	Loop     bool   `json:"loop"`
}

func (p *patternConfig) groups() [mFields]*int {
	return [mFields]*int{p.File, p.Line, p.Column, p.Severity, p.Code, p.Message, p.FromPath}
}

// loadMatchers reads and checks a problem matcher file; name is how errors
// name it.
func loadMatchers(path, name string) ([]*matcherConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var f matcherFile
	if err := json.Unmarshal(data, &f); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			l, c := lineCol(data, syn.Offset)
			return nil, fmt.Errorf("%s:%d:%d: %v", name, l, c, err)
		case errors.As(err, &typ):
			l, c := lineCol(data, typ.Offset)
			return nil, fmt.Errorf("%s:%d:%d: %v", name, l, c, err)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	owners := map[string]bool{}
	for _, m := range f.ProblemMatcher {
		if m == nil {
			return nil, fmt.Errorf("%s: a matcher is null", name)
		}
		if err := m.check(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if owners[strings.ToLower(m.Owner)] {
			return nil, fmt.Errorf("%s: duplicate owner name '%s'", name, m.Owner)
		}
		owners[strings.ToLower(m.Owner)] = true
	}
	return f.ProblemMatcher, nil
}

// lineCol is the 1-based line and column of byte offset off in data.
func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	return line, int(off) - (bytes.LastIndexByte(before, '\n') + 1)
}

// check validates a matcher as GitHub's IssueMatcherConfig.Validate does
// and compiles its patterns.
func (m *matcherConfig) check() error {
	if m.Owner == "" {
		return errors.New("owner must not be empty")
	}
	switch strings.ToLower(m.Severity) {
	case "", "error", "warning", "notice":
	default:
		return fmt.Errorf("matcher '%s' contains unexpected default severity '%s'", m.Owner, m.Severity)
	}
	if len(m.Pattern) == 0 {
		return fmt.Errorf("matcher '%s' does not contain any patterns", m.Owner)
	}
	var seen [mFields]bool
	m.res = make([]*regexp.Regexp, len(m.Pattern))
	for i, p := range m.Pattern {
		if p == nil {
			return fmt.Errorf("matcher '%s': pattern %d is null", m.Owner, i+1)
		}
		last := i == len(m.Pattern)-1
		if p.Loop && (i == 0 || !last) {
			return fmt.Errorf("matcher '%s': only the last pattern in a multiline matcher may set 'loop'", m.Owner)
		}
		if p.Loop && p.Message == nil {
			return fmt.Errorf("matcher '%s': the loop pattern must set 'message'", m.Owner)
		}
		re, err := regexp.Compile(p.Regexp)
		if err != nil {
			return fmt.Errorf("matcher '%s': pattern %d: %w", m.Owner, i+1, err)
		}
		m.res[i] = re
		for f, g := range p.groups() {
			if g == nil {
				continue
			}
			if seen[f] {
				return fmt.Errorf("matcher '%s': the property '%s' is set twice", m.Owner, matcherFieldNames[f])
			}
			seen[f] = true
			if *g < 0 || *g > re.NumSubexp() {
				return fmt.Errorf("matcher '%s': the property '%s' is set to %d, which is out of range", m.Owner, matcherFieldNames[f], *g)
			}
		}
	}
	if !seen[mMessage] {
		return fmt.Errorf("matcher '%s': at least one pattern must set 'message'", m.Owner)
	}
	return nil
}

// jobMatchers are the matchers registered in a job, newest first. Safe for
// concurrent use.
type jobMatchers struct {
	mu   sync.Mutex
	list []*matcherConfig
	gen  int // changes with every add or remove
}

// add registers ms before the others; one of the same owner (case
// insensitive) is replaced.
func (j *jobMatchers) add(ms []*matcherConfig) {
	j.mu.Lock()
	defer j.mu.Unlock()
	owners := map[string]bool{}
	for _, m := range ms {
		owners[strings.ToLower(m.Owner)] = true
	}
	list := append([]*matcherConfig{}, ms...)
	for _, m := range j.list {
		if !owners[strings.ToLower(m.Owner)] {
			list = append(list, m)
		}
	}
	j.list = list
	j.gen++
}

func (j *jobMatchers) remove(owner string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	list := j.list[:0:0]
	for _, m := range j.list {
		if !strings.EqualFold(m.Owner, owner) {
			list = append(list, m)
		}
	}
	j.list = list
	j.gen++
}

// issueMatch is what a matcher took from one or more lines; nil: not set.
type issueMatch [mFields]*string

// issueMatcher is a matcher with the state of its multi-line patterns, for
// one step's output.
type issueMatcher struct {
	cfg   *matcherConfig
	state []*issueMatch // state[i]: pattern i matched, running
}

func (m *issueMatcher) reset() { m.state = make([]*issueMatch, len(m.cfg.Pattern)-1) }

// matchPattern is what pattern i takes from line, over the running match.
func (m *issueMatcher) take(running *issueMatch, i int, groups []string) *issueMatch {
	out := &issueMatch{}
	if running != nil {
		*out = *running
	}
	for f, g := range m.cfg.Pattern[i].groups() {
		if out[f] == nil && g != nil && *g < len(groups) {
			v := groups[*g]
			out[f] = &v
		}
	}
	return out
}

// match tries line as IssueMatcher.Match does: with several patterns, the
// last one completes an issue when the ones before it matched the lines
// before; a loop last pattern goes on matching lines for the same first
// lines until a line does not match it.
func (m *issueMatcher) match(line string) *issueMatch {
	pats := m.cfg.Pattern
	if len(pats) == 1 {
		if g := m.cfg.res[0].FindStringSubmatch(line); g != nil {
			return m.withDefault(m.take(nil, 0, g))
		}
		return nil
	}
	for i := len(pats) - 1; i >= 0; i-- {
		var running *issueMatch
		if i > 0 {
			running = m.state[i-1]
			if running == nil {
				continue
			}
		}
		last := i == len(pats)-1
		g := m.cfg.res[i].FindStringSubmatch(line)
		switch {
		case g != nil && last:
			m.reset()
			if pats[i].Loop {
				m.state[i-1] = running
			}
			return m.withDefault(m.take(running, i, g))
		case g != nil:
			m.state[i] = m.take(running, i, g)
		case last:
			m.state[i-1] = nil
		default:
			m.state[i] = nil
		}
	}
	return nil
}

func (m *issueMatcher) withDefault(im *issueMatch) *issueMatch {
	if (im[mSeverity] == nil || *im[mSeverity] == "") && m.cfg.Severity != "" {
		s := m.cfg.Severity
		im[mSeverity] = &s
	}
	return im
}

// stepMatchers tries a step's output lines against the job's matchers.
type stepMatchers struct {
	job    *jobMatchers
	gen    int
	active []*issueMatcher
}

var colorCode = regexp.MustCompile("\x1b\\[[0-9;]*m?")

// match returns the first match of line (color codes removed) by the
// matchers, newest first; the other matchers forget their running lines.
func (s *stepMatchers) match(line string) (*issueMatch, bool) {
	s.job.mu.Lock()
	if s.gen != s.job.gen || s.active == nil {
		old := map[*matcherConfig]*issueMatcher{}
		for _, m := range s.active {
			old[m.cfg] = m
		}
		s.active = make([]*issueMatcher, 0, len(s.job.list))
		for _, c := range s.job.list {
			m := old[c]
			if m == nil {
				m = &issueMatcher{cfg: c}
				m.reset()
			}
			s.active = append(s.active, m)
		}
		s.gen = s.job.gen
	}
	s.job.mu.Unlock()
	if len(s.active) == 0 {
		return nil, false
	}
	if strings.Contains(line, "\x1b[") {
		line = colorCode.ReplaceAllString(line, "")
	}
	for _, m := range s.active {
		im := m.match(line)
		if im == nil {
			continue
		}
		for _, o := range s.active {
			if o != m {
				o.reset()
			}
		}
		if im[mMessage] != nil && strings.TrimSpace(*im[mMessage]) != "" {
			return im, true
		}
	}
	return nil, false
}

// issueCommand turns a match into the ::error/::warning/::notice it
// stands for, as OutputManager.ConvertToIssue does: false when the severity
// is not one of those. The file is kept when it exists under the
// workspace, relative to it (with fromPath's folder before a relative
// one); line and column when they are numbers.
func (jr *legRun) issueCommand(im *issueMatch) (command, bool) {
	get := func(f int) string {
		if im[f] == nil {
			return ""
		}
		return *im[f]
	}
	c := command{Value: get(mMessage), Props: map[string]string{}}
	switch sev := strings.ToLower(get(mSeverity)); sev {
	case "", "error":
		c.Name = "error"
	case "warning", "notice":
		c.Name = sev
	default:
		return command{}, false
	}
	for f, key := range map[int]string{mLine: "line", mColumn: "col"} {
		if v := get(f); v != "" && strings.Trim(v, "0123456789") == "" {
			if n, err := strconv.Atoi(v); err == nil {
				c.Props[key] = strconv.Itoa(n)
			}
		}
	}
	if file := strings.TrimSpace(get(mFile)); file != "" {
		if rel, ok := jr.issueFile(file, strings.TrimSpace(get(mFromPath))); ok {
			c.Props["file"] = rel
		}
	}
	return c, true
}

// issueFile is file relative to the workspace, if it is a file there.
func (jr *legRun) issueFile(file, fromPath string) (string, bool) {
	if fromPath != "" && !filepath.IsAbs(file) {
		file = filepath.Join(filepath.Dir(fromPath), file)
	}
	if filepath.IsAbs(file) && jr.ctr != nil {
		h, err := jr.ctr.toHost(file)
		if err != nil {
			return "", false
		}
		file = h
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(jr.workspace, file)
	}
	rel, err := filepath.Rel(jr.workspace, filepath.Clean(file))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	p, err := securejoin.SecureJoin(jr.workspace, rel)
	if err != nil {
		return "", false
	}
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// matcherRoots are the folders a matcher file may be read from: the
// workspace, the runner's temp dir, and the folders of the job's actions.
func (jr *legRun) matcherRoots() []string {
	roots := []string{jr.workspace, jr.temp}
	for sc := jr.scope; sc != nil; sc = sc.parent {
		if sc.act != nil {
			roots = append(roots, sc.act.Dir)
		}
	}
	if jr.acts != nil {
		for _, a := range jr.acts.resolved {
			if a != nil {
				roots = append(roots, a.Dir)
			}
		}
	}
	if a := jr.r.opts.Actions; a != nil {
		if a.StateDir != "" {
			roots = append(roots, filepath.Join(a.StateDir, "actions"))
		}
		if a.Source.Dir != "" {
			roots = append(roots, a.Source.Dir)
		}
	}
	return roots
}

// addMatcher handles ::add-matcher::FILE.
func (jr *legRun) addMatcher(file string) error {
	ms, err := jr.readMatchers(file)
	if err != nil {
		return err
	}
	if len(ms) > 0 {
		jr.matchers.add(ms)
	}
	return nil
}

// removeMatcher handles ::remove-matcher owner=OWNER:: and
// ::remove-matcher::FILE (the owners of the file's matchers).
func (jr *legRun) removeMatcher(owner, file string) error {
	switch {
	case owner != "" && file != "":
		return errors.New("remove-matcher: either specify an owner name or a file path, not both")
	case owner != "":
		jr.matchers.remove(owner)
	case file != "":
		ms, err := jr.readMatchers(file)
		if err != nil {
			return err
		}
		for _, m := range ms {
			jr.matchers.remove(m.Owner)
		}
	default:
		return errors.New("remove-matcher: either an owner name or a file path must be specified")
	}
	return nil
}

// readMatchers reads a matcher file named in a command. A relative path is
// in the workspace; an absolute one must be inside one of matcherRoots
// (symbolic links resolved inside it).
func (jr *legRun) readMatchers(file string) ([]*matcherConfig, error) {
	file = strings.TrimSpace(file)
	if file == "" {
		return nil, errors.New("the matcher file path must be specified")
	}
	name := file
	if filepath.IsAbs(file) && jr.ctr != nil {
		h, err := jr.ctr.toHost(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		file = h
	}
	var path string
	if !filepath.IsAbs(file) {
		p, err := securejoin.SecureJoin(jr.workspace, file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		path = p
	} else {
		file = filepath.Clean(file)
		for _, root := range jr.matcherRoots() {
			if root == "" {
				continue
			}
			rel, err := filepath.Rel(root, file)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				continue
			}
			if path, err = securejoin.SecureJoin(root, rel); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			break
		}
		if path == "" {
			return nil, fmt.Errorf("%s: a matcher file must be in the workspace, the runner's temp dir or an action's folder", name)
		}
	}
	return loadMatchers(path, name)
}
