package workflow

import (
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// eventSpec is what GitHub accepts under one event of `on:`: its activity
// types (nil: the event takes no types; anyTypes: any name, as
// repository_dispatch's) and its other keys.
type eventSpec struct {
	types    []string
	anyTypes bool
	keys     []string
}

var (
	prTypes = []string{
		"assigned", "auto_merge_disabled", "auto_merge_enabled", "closed", "converted_to_draft", "demilestoned",
		"dequeued", "edited", "enqueued", "labeled", "locked", "milestoned", "opened", "ready_for_review",
		"reopened", "review_request_removed", "review_requested", "synchronize", "unassigned", "unlabeled", "unlocked",
	}
	prKeys = []string{"branches", "branches-ignore", "paths", "paths-ignore"}
	ced    = []string{"created", "deleted", "edited"}
)

// events are the events that trigger workflows, from GitHub's "Events that
// trigger workflows" reference.
var events = map[string]eventSpec{
	"branch_protection_rule": {types: ced},
	"check_run":              {types: []string{"completed", "created", "requested_action", "rerequested"}},
	"check_suite":            {types: []string{"completed"}},
	"create":                 {},
	"delete":                 {},
	"deployment":             {},
	"deployment_status":      {},
	"discussion": {types: []string{"answered", "category_changed", "created", "deleted", "edited", "labeled", "locked",
		"pinned", "transferred", "unanswered", "unlabeled", "unlocked", "unpinned"}},
	"discussion_comment": {types: ced},
	"fork":               {},
	"gollum":             {},
	"image_version":      {anyTypes: true, keys: []string{"names", "versions"}},
	"issue_comment":      {types: ced},
	"issues": {types: []string{"assigned", "closed", "deleted", "demilestoned", "edited", "labeled", "locked",
		"milestoned", "opened", "pinned", "reopened", "transferred", "typed", "unassigned", "unlabeled", "unlocked",
		"unpinned", "untyped"}},
	"label":                       {types: ced},
	"merge_group":                 {types: []string{"checks_requested"}, keys: []string{"branches", "branches-ignore"}},
	"milestone":                   {types: []string{"closed", "created", "deleted", "edited", "opened"}},
	"page_build":                  {},
	"project":                     {types: []string{"closed", "created", "deleted", "edited", "reopened"}},
	"project_card":                {types: []string{"converted", "created", "deleted", "edited", "moved"}},
	"project_column":              {types: []string{"created", "deleted", "moved", "updated"}},
	"public":                      {},
	"pull_request":                {types: prTypes, keys: prKeys},
	"pull_request_review":         {types: []string{"dismissed", "edited", "submitted"}},
	"pull_request_review_comment": {types: ced},
	"pull_request_target":         {types: prTypes, keys: prKeys},
	"push":                        {keys: []string{"branches", "branches-ignore", "paths", "paths-ignore", "tags", "tags-ignore"}},
	"registry_package":            {types: []string{"published", "updated"}},
	"release":                     {types: []string{"created", "deleted", "edited", "prereleased", "published", "released", "unpublished"}},
	"repository_dispatch":         {anyTypes: true},
	"schedule":                    {},
	"status":                      {},
	"watch":                       {types: []string{"started"}},
	"workflow_call":               {keys: []string{"inputs", "outputs", "secrets"}},
	"workflow_dispatch":           {keys: []string{"inputs"}},
	"workflow_run":                {types: []string{"completed", "in_progress", "requested"}, keys: []string{"branches", "branches-ignore", "workflows"}},
}

func eventNames() []string {
	names := make([]string, 0, len(events))
	for n := range events {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ruleEvents checks `on:`: event names, each event's activity types and
// the filters it takes. (The parser checks the keys of push,
// pull_request and pull_request_target, and a filter with its -ignore
// form; rule_cron.go checks schedules and rule_globs.go the patterns.)
func ruleEvents() *rule {
	return &rule{workflow: func(v *validator, w *Workflow) {
		n := w.On.Node
		if n == nil {
			return
		}
		switch n.Kind {
		case yaml.ScalarNode:
			v.eventName(n)
			v.needsConfig(n)
		case yaml.SequenceNode:
			for _, c := range n.Content {
				v.eventName(resolve(c))
				v.needsConfig(resolve(c))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], resolve(n.Content[i+1])
				if spec, ok := v.eventName(k); ok {
					v.eventConfig(k.Value, spec, val)
					if k.Value == "workflow_run" && mappingValue(val, "workflows") == nil {
						v.errf(posOf(k), "events", "on.workflow_run needs workflows: the names of the workflows whose runs start this one")
					}
				}
			}
		}
	}}
}

// needsConfig reports an event named without its configuration when
// GitHub requires one (workflow_run's workflows, schedule's cron).
func (v *validator) needsConfig(n *yaml.Node) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return
	}
	switch n.Value {
	case "workflow_run":
		v.errf(posOf(n), "events", "workflow_run needs workflows: write on: {workflow_run: {workflows: [NAME]}}")
	case "schedule":
		v.errf(posOf(n), "events", "schedule needs cron entries: write on: {schedule: [{cron: \"MIN HOUR DAY MONTH WEEKDAY\"}]}")
	}
}

// eventName reports an unknown event; it returns the event's spec.
func (v *validator) eventName(n *yaml.Node) (eventSpec, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return eventSpec{}, false
	}
	spec, ok := events[n.Value]
	if !ok {
		names := eventNames()
		hint := didYouMean(n.Value, names)
		if hint == "" {
			hint = "; see GitHub's \"Events that trigger workflows\""
		}
		v.errf(posOf(n), "events", "unknown event %q%s", n.Value, hint)
	}
	return spec, ok
}

// eventConfig checks the mapping under one event.
func (v *validator) eventConfig(event string, spec eventSpec, n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if event == "schedule" {
		return // rule_cron.go
	}
	if n.Kind != yaml.MappingNode {
		v.errf(posOf(n), "events", "on.%s must be a mapping or empty, not %s", event, kindName(n))
		return
	}
	parsed := event == "push" || event == "pull_request" || event == "pull_request_target"
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], resolve(n.Content[i+1])
		switch {
		case k.Value == "types" && (spec.types != nil || spec.anyTypes):
			v.eventTypes(event, spec, val)
		case contains(spec.keys, k.Value):
			// The lists an event matches names against: empty, they match
			// nothing (branches and paths: rule_globs.go).
			if (k.Value == "names" || k.Value == "versions" || k.Value == "workflows") &&
				val.Kind == yaml.SequenceNode && len(val.Content) == 0 {
				v.errf(posOf(val), "events", "on.%s.%s is empty: the workflow would never run for %s", event, k.Value, event)
			}
		case parsed && !contains(prKeys, k.Value) && k.Value != "tags" && k.Value != "tags-ignore" && k.Value != "types":
			// an unknown key: the parser reports it
		default:
			takes := append([]string(nil), spec.keys...)
			if spec.types != nil || spec.anyTypes {
				takes = append(takes, "types")
			}
			sort.Strings(takes)
			what := "takes no filters or settings"
			if len(takes) > 0 {
				what = "takes only " + strings.Join(takes, ", ")
			}
			v.errf(posOf(k), "events", "event %s has no %q: it %s%s", event, k.Value, what, didYouMean(k.Value, takes))
		}
	}
}

// eventTypes checks an event's activity types.
func (v *validator) eventTypes(event string, spec eventSpec, n *yaml.Node) {
	var items []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{n}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			items = append(items, resolve(c))
		}
	default:
		v.errf(posOf(n), "events", "on.%s.types must be a string or a list of strings, not %s", event, kindName(n))
		return
	}
	if len(items) == 0 {
		v.errf(posOf(n), "events", "on.%s.types is empty: the workflow would never run for %s", event, event)
	}
	seen := map[string]bool{}
	for _, it := range items {
		if it.Kind != yaml.ScalarNode {
			v.errf(posOf(it), "events", "on.%s.types entries must be strings, not %s", event, kindName(it))
			continue
		}
		if seen[it.Value] {
			v.errf(posOf(it), "events", "activity type %q of %s is listed twice", it.Value, event)
		}
		seen[it.Value] = true
		if !spec.anyTypes && !contains(spec.types, it.Value) {
			hint := didYouMean(it.Value, spec.types)
			if hint == "" {
				hint = "; its types: " + strings.Join(spec.types, ", ")
			}
			v.errf(posOf(it), "events", "unknown activity type %q for %s%s", it.Value, event, hint)
		}
	}
}
