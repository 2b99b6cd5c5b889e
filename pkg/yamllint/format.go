package yamllint

import (
	"fmt"
	"io"
	"strings"
)

// Output formats (yamllint -f).
const (
	FormatParsable = "parsable"
	FormatStandard = "standard"
	FormatColored  = "colored"
	FormatGitHub   = "github"
	FormatAuto     = "auto"
)

// Formats lists the accepted format names.
var Formats = []string{FormatParsable, FormatStandard, FormatColored, FormatGitHub, FormatAuto}

// ResolveFormat turns "auto" into github (GITHUB_ACTIONS and
// GITHUB_WORKFLOW set), colored (a terminal) or standard, as yamllint does.
func ResolveFormat(format string, getenv func(string) (string, bool), isTerminal bool) string {
	if format != FormatAuto {
		return format
	}
	_, a := getenv("GITHUB_ACTIONS")
	_, w := getenv("GITHUB_WORKFLOW")
	switch {
	case a && w:
		return FormatGitHub
	case isTerminal:
		return FormatColored
	}
	return FormatStandard
}

func pad(line string, width int) string {
	if n := len([]rune(line)); n < width {
		return line + strings.Repeat(" ", width-n)
	}
	return line
}

// FormatProblem renders one problem line (without newline).
func FormatProblem(format string, p Problem, file string) string {
	switch format {
	case FormatParsable:
		return fmt.Sprintf("%s:%d:%d: [%s] %s", file, p.Line, p.Column, p.Level, p.Message())
	case FormatGitHub:
		line := fmt.Sprintf("::%s file=%s,line=%d,col=%d::%d:%d ", p.Level, file, p.Line, p.Column, p.Line, p.Column)
		if p.Rule != "" {
			line += "[" + p.Rule + "] "
		}
		return line + p.Desc
	case FormatColored:
		line := fmt.Sprintf("  \033[2m%d:%d\033[0m", p.Line, p.Column)
		line = pad(line, 20)
		if p.Level == "warning" {
			line += "\033[33m" + p.Level + "\033[0m"
		} else {
			line += "\033[31m" + p.Level + "\033[0m"
		}
		line = pad(line, 38) + p.Desc
		if p.Rule != "" {
			line += "  \033[2m(" + p.Rule + ")\033[0m"
		}
		return line
	default:
		line := pad(fmt.Sprintf("  %d:%d", p.Line, p.Column), 12) + p.Level
		line = pad(line, 21) + p.Desc
		if p.Rule != "" {
			line += "  (" + p.Rule + ")"
		}
		return line
	}
}

// Levels ranks problem levels as yamllint's PROBLEM_LEVELS.
func Levels(level string) int {
	switch level {
	case "warning":
		return 1
	case "error":
		return 2
	}
	return 0
}

// WriteProblems prints one file's problems as yamllint's show_problems
// does (format must not be "auto") and returns the highest level seen
// (0 none, 1 warning, 2 error). noWarnings hides warnings but still
// counts them.
func WriteProblems(w io.Writer, problems []Problem, file, format string, noWarnings bool) (int, error) {
	maxLevel := 0
	first := true
	var b strings.Builder
	for _, p := range problems {
		maxLevel = max(maxLevel, Levels(p.Level))
		if noWarnings && p.Level != "error" {
			continue
		}
		switch format {
		case FormatParsable:
		case FormatGitHub:
			if first {
				b.WriteString("::group::" + file + "\n")
			}
		case FormatColored:
			if first {
				b.WriteString("\033[4m" + file + "\033[0m\n")
			}
		default:
			if first {
				b.WriteString(file + "\n")
			}
		}
		first = false
		b.WriteString(FormatProblem(format, p, file) + "\n")
	}
	if !first && format == FormatGitHub {
		b.WriteString("::endgroup::\n")
	}
	if !first && format != FormatParsable {
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return maxLevel, err
}
