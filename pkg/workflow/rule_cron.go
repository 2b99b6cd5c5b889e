package workflow

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// cronField is one field of a POSIX cron expression, as GitHub's
// schedule takes it.
type cronField struct {
	name     string
	min, max int
	names    []string // names for min.. (months JAN.., days SUN..)
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	{name: "day of week", min: 0, max: 6, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
}

// minCronInterval is GitHub's shortest schedule: "The shortest interval
// you can run scheduled workflows is once every 5 minutes."
const minCronInterval = 5

// parseCron checks a cron expression and returns the minutes it runs at.
func parseCron(s string) ([]bool, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "@") {
		return nil, fmt.Errorf("%q: GitHub does not take @ forms such as @daily; write the 5 fields (e.g. \"0 0 * * *\")", s)
	}
	fs := strings.Fields(s)
	if len(fs) != 5 {
		return nil, fmt.Errorf("%q has %d fields; a cron expression has 5: minute, hour, day of month, month, day of week", s, len(fs))
	}
	var minutes []bool
	for i, f := range fs {
		set, err := cronFields[i].parse(f)
		if err != nil {
			return nil, fmt.Errorf("%q: %s field %q: %v", s, cronFields[i].name, f, err)
		}
		if i == 0 {
			minutes = set
		}
	}
	return minutes, nil
}

// parse reads a field: a list of *, N, N-M, each with an optional /STEP.
func (f cronField) parse(s string) ([]bool, error) {
	set := make([]bool, f.max+1)
	for _, item := range strings.Split(s, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("step %q must be a positive number", stepText)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*":
		case rng == "":
			return nil, fmt.Errorf("empty item")
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = f.value(a); err != nil {
				return nil, err
			}
			hi = lo
			if isRange {
				if hi, err = f.value(b); err != nil {
					return nil, err
				}
				if hi < lo {
					return nil, fmt.Errorf("range %s goes backwards", rng)
				}
			} else if hasStep {
				hi = f.max // N/STEP: from N to the end
			}
		}
		for x := lo; x <= hi; x += step {
			set[x] = true
		}
	}
	return set, nil
}

// value reads a number or a name within the field's range.
func (f cronField) value(s string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		if f.names != nil {
			return 0, fmt.Errorf("%q is not a number from %d to %d or a name %s-%s", s, f.min, f.max, f.names[0], f.names[len(f.names)-1])
		}
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n < f.min || n > f.max {
		return 0, fmt.Errorf("%d is out of range %d-%d", n, f.min, f.max)
	}
	return n, nil
}

// shortestGap is the fewest minutes between two runs within an hour
// (wrapping), or 60 when it runs once an hour.
func shortestGap(minutes []bool) int {
	var at []int
	for m, ok := range minutes {
		if ok {
			at = append(at, m)
		}
	}
	gap := 60
	for i := range at {
		next := at[(i+1)%len(at)]
		if i == len(at)-1 {
			next += 60
		}
		if d := next - at[i]; d < gap && len(at) > 1 {
			gap = d
		}
	}
	return gap
}

// ruleCron checks on.schedule: a list of {cron: "…"} entries, each a
// valid 5-field expression; a schedule more often than every 5 minutes
// is a warning (GitHub runs it at most that often).
func ruleCron() *rule {
	return &rule{workflow: func(v *validator, w *Workflow) {
		n := mappingValue(w.On.Node, "schedule")
		if n == nil {
			return
		}
		if n.Kind != yaml.SequenceNode {
			v.errf(posOf(n), "cron", "on.schedule must be a list of {cron: ...} entries, not %s", kindName(n))
			return
		}
		if len(n.Content) == 0 {
			v.errf(posOf(n), "cron", "on.schedule is empty: the workflow would never run on a schedule")
		}
		for _, e := range n.Content {
			e = resolve(e)
			c := mappingValue(e, "cron")
			if e.Kind != yaml.MappingNode || c == nil || c.Kind != yaml.ScalarNode {
				v.errf(posOf(e), "cron", "on.schedule entries must be {cron: \"MIN HOUR DAY MONTH WEEKDAY\"}, with an optional timezone")
				continue
			}
			for i := 0; i+1 < len(e.Content); i += 2 {
				if k := e.Content[i]; k.Value != "cron" && k.Value != "timezone" {
					v.errf(posOf(k), "cron", "unknown key %q in an on.schedule entry; expected cron and timezone%s", k.Value, didYouMean(k.Value, []string{"cron", "timezone"}))
				}
			}
			pos := posOf(c)
			if quoted(c) {
				pos.Col++
			}
			minutes, err := parseCron(c.Value)
			if err != nil {
				v.errf(pos, "cron", "%v", err)
				continue
			}
			if gap := shortestGap(minutes); gap < minCronInterval {
				v.warnf(pos, "cron", "%q runs every %d minute(s); GitHub runs a schedule at most every %d minutes", c.Value, gap, minCronInterval)
			}
		}
	}}
}
