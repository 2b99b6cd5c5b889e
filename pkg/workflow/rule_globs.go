package workflow

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// globFilters are the event keys that hold GitHub filter patterns, and
// whether the patterns match git refs (branch and tag names) or paths.
var globFilters = map[string]bool{
	"branches": true, "branches-ignore": true, "tags": true, "tags-ignore": true,
	"paths": false, "paths-ignore": false,
}

// ruleGlobs checks the patterns of branches, tags and paths filters with
// GitHub's "Filter pattern cheat sheet" syntax: *, **, ?, +, [..] and a
// leading ! (never alone: GitHub requires a pattern without ! in a list
// that has one with it). A pattern that cannot match a ref (a
// space, ~, ^ or :) is an error too.
func ruleGlobs() *rule {
	return &rule{workflow: func(v *validator, w *Workflow) {
		on := w.On.Node
		if on == nil || on.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(on.Content); i += 2 {
			event, cfg := on.Content[i].Value, resolve(on.Content[i+1])
			if cfg == nil || cfg.Kind != yaml.MappingNode {
				continue
			}
			// The parser checks a filter with its -ignore form for the
			// events it reads (push, pull_request, pull_request_target).
			if event != "push" && event != "pull_request" && event != "pull_request_target" {
				for _, f := range []string{"branches", "tags", "paths"} {
					if mappingValue(cfg, f) != nil {
						if ign := keyNode(cfg, f+"-ignore"); ign != nil {
							v.errf(posOf(ign), "glob", "on.%s: %s and %s-ignore cannot be used together; use %s with ! patterns", event, f, f, f)
						}
					}
				}
			}
			for j := 0; j+1 < len(cfg.Content); j += 2 {
				key := cfg.Content[j].Value
				ref, ok := globFilters[key]
				if !ok {
					continue
				}
				list := resolve(cfg.Content[j+1])
				var items []*yaml.Node
				switch list.Kind {
				case yaml.ScalarNode:
					items = []*yaml.Node{list}
				case yaml.SequenceNode:
					for _, c := range list.Content {
						items = append(items, resolve(c))
					}
				}
				positive := false
				for _, it := range items {
					if it.Kind != yaml.ScalarNode || it.Tag == "!!null" {
						continue
					}
					val := Value{Raw: it.Value, Pos: posOf(it), Set: true, Quoted: quoted(it)}
					where := fmt.Sprintf("on.%s.%s", event, key)
					if !strings.HasPrefix(it.Value, "!") {
						positive = true
					}
					if off, msg := checkGlob(it.Value, ref); msg != "" {
						v.errf(offsetPos(val, off), "glob", "%s: invalid pattern %q: %s", where, it.Value, msg)
					}
				}
				if len(items) > 0 && !positive && !strings.HasSuffix(key, "-ignore") {
					v.errf(posOf(list), "glob", "on.%s.%s has only ! patterns, which match nothing: add a pattern without ! for what to include (e.g. '**')", event, key)
				}
			}
		}
	}}
}

// checkGlob returns the byte offset and a message for the first syntax
// error of a filter pattern, or "".
func checkGlob(p string, ref bool) (int, string) {
	if p == "" || p == "!" {
		return 0, "a pattern cannot be empty"
	}
	start := 0
	if p[0] == '!' {
		start = 1
	}
	prev := false // a character that ? or + may follow
	for i := start; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			if i+1 == len(p) {
				return i, "\\ at the end escapes nothing"
			}
			i++
			prev = true
			continue
		case '?', '+':
			if !prev {
				return i, fmt.Sprintf("%c must follow a character or a [...] set (it repeats it)", c)
			}
			prev = false
			continue
		case '*':
			prev = false
			continue
		case '[':
			end := strings.IndexByte(p[i+1:], ']')
			if end < 0 {
				return i, "[ is not closed by ]"
			}
			set := p[i+1 : i+1+end]
			if set == "" {
				return i, "[] is an empty set"
			}
			for k := 0; k < len(set); k++ {
				if k+2 < len(set) && set[k+1] == '-' {
					if set[k] > set[k+2] {
						return i + 1 + k, fmt.Sprintf("range %s goes backwards", set[k:k+3])
					}
					k += 2
				}
			}
			i += end + 1
			prev = true
			continue
		}
		if ref && (c == ' ' || c == '~' || c == '^' || c == ':' || c < 0x20 || c == 0x7f) {
			return i, fmt.Sprintf("%q cannot be in a branch or tag name (git refuses it), so the pattern matches nothing", string(c))
		}
		prev = true
	}
	return 0, ""
}

// keyNode returns the key node of key in a mapping node, or nil.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}
