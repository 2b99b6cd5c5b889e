package workflow

import (
	"path"
	"regexp"
	"strings"
)

// githubLabels are the labels of GitHub-hosted runners (standard and
// larger), from GitHub's "GitHub-hosted runners" reference, and the
// default labels of self-hosted runners.
var githubLabels = []string{
	"ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04", "ubuntu-20.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm", "ubuntu-slim",
	"windows-latest", "windows-2025", "windows-2022", "windows-2019", "windows-11-arm",
	"macos-latest", "macos-26", "macos-15", "macos-14", "macos-13", "macos-15-intel",
	"macos-latest-large", "macos-26-large", "macos-15-large", "macos-14-large", "macos-13-large",
	"macos-latest-xlarge", "macos-26-xlarge", "macos-15-xlarge", "macos-14-xlarge", "macos-13-xlarge",
	"self-hosted", "linux", "macos", "windows", "x64", "arm", "arm64",
}

// ruleRunsOn warns about a runs-on label that is neither a GitHub-hosted
// runner's nor a self-hosted runner's default one, unless the job asks for
// self-hosted runners (whose custom labels are their owner's) or the label
// is one of Options.RunnerLabels: on GitHub such a job waits for a runner
// that may never come. runner itself runs
// every job on this machine, whatever its labels.
func ruleRunsOn() *rule {
	return &rule{job: func(v *validator, j *Job) {
		for _, l := range j.RunsOn {
			if strings.EqualFold(l.Raw, "self-hosted") {
				return
			}
		}
		v.runsOnConflict(j)
		for _, l := range j.RunsOn {
			if strings.Contains(l.Raw, "${{") {
				continue
			}
			known := false
			for _, g := range githubLabels {
				known = known || strings.EqualFold(g, l.Raw)
			}
			for _, g := range v.opts.RunnerLabels {
				ok, _ := path.Match(strings.ToLower(g), strings.ToLower(l.Raw))
				known = known || ok
			}
			if !known {
				pos := l.Pos
				if l.Quoted {
					pos.Col++
				}
				v.warnf(pos, "runs-on", "job %s: runs-on label %q is not a GitHub-hosted runner's: on GitHub the job waits for a runner with that label (add self-hosted to the labels if it is one)%s",
					j.ID, l.Raw, didYouMean(l.Raw, githubLabels))
			}
		}
	}}
}

// runnerSystem is the system a GitHub-hosted runner label names (ubuntu,
// windows or macos), or "" for other labels.
func runnerSystem(label string) string {
	sys, _, _ := strings.Cut(strings.ToLower(label), "-")
	switch sys {
	case "ubuntu", "windows", "macos":
		for _, g := range githubLabels {
			if strings.EqualFold(g, label) {
				return sys
			}
		}
	}
	return ""
}

// matrixLabel matches a runs-on label that is one matrix value.
var matrixLabel = regexp.MustCompile(`^\$\{\{\s*matrix\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$`)

// runsOnConflict warns about runs-on labels of two GitHub-hosted runners
// of different systems: a job runs on a runner that has every label, and
// none has both, so on GitHub the job waits. A label ${{ matrix.<key> }}
// stands for the values its legs give it, compared with a written label
// before it.
func (v *validator) runsOnConflict(j *Job) {
	first := -1
	for i, l := range j.RunsOn {
		var labels []string
		from := ""
		if m := matrixLabel.FindStringSubmatch(strings.TrimSpace(l.Raw)); m != nil {
			if first < 0 {
				continue // legs give it their own systems: no conflict among them
			}
			from = " (matrix." + m[1] + ")"
			for _, x := range matrixLegValues(v, j)[strings.ToLower(m[1])] {
				if s, ok := x.(string); ok {
					labels = append(labels, s)
				}
			}
		} else {
			labels = []string{l.Raw}
		}
		for _, label := range labels {
			sys := runnerSystem(label)
			if sys == "" {
				continue
			}
			if first < 0 {
				first = i
				continue
			}
			f := j.RunsOn[first]
			if other := runnerSystem(f.Raw); other != sys {
				pos := l.Pos
				if l.Quoted {
					pos.Col++
				}
				v.warnf(pos, "runs-on", "job %s: runs-on labels %q and %q%s name runners of different systems (%s, %s): no GitHub-hosted runner has both, so on GitHub the job waits; use a matrix to run it on each",
					j.ID, f.Raw, label, from, other, sys)
			}
		}
	}
}
