package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/birdflock/runner/pkg/run"
)

// printSummary prints the ✓/✗ table of jobs and steps with durations.
func printSummary(w io.Writer, res *run.Result, color bool) {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	mark := func(status string) string {
		switch status {
		case "success":
			return paint("32", "✓")
		case "failure":
			return paint("31", "✗")
		case "skipped":
			return paint("90", "-")
		}
		return paint("33", "•")
	}
	fmt.Fprintf(w, "\n%s %s  run %d  %s\n", mark(res.Conclusion), res.Workflow, res.ID, dur(res.Duration))
	for _, j := range res.Jobs {
		if j.Cached != nil {
			fmt.Fprintf(w, "  %s %-40s %s\n", mark(j.Result), j.Name, j.Cached)
			continue
		}
		fmt.Fprintf(w, "  %s %-40s %8s\n", mark(j.Result), j.Name, dur(j.Duration))
		for _, s := range j.Steps {
			if s.Conclusion == "skipped" {
				continue
			}
			name := s.Name
			if len(name) > 50 {
				name = name[:47] + "..."
			}
			name = strings.ReplaceAll(name, "\n", " ")
			fmt.Fprintf(w, "      %s %-50s %8s\n", mark(s.Conclusion), name, dur(s.Duration))
		}
	}
	fmt.Fprintf(w, "logs: %s\n", res.Dir)
}

func dur(d time.Duration) string {
	if d == 0 {
		return ""
	}
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
