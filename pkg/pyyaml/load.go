package pyyaml

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Map is a YAML mapping in insertion order, like a Python dict.
type Map struct {
	Keys   []any
	Values map[any]any
}

// Get returns the value for key and whether it is present.
func (m *Map) Get(key any) (any, bool) {
	v, ok := m.Values[key]
	return v, ok
}

// Set inserts or replaces a value, keeping the first position of the key.
func (m *Map) Set(key, value any) {
	if m.Values == nil {
		m.Values = map[any]any{}
	}
	if _, ok := m.Values[key]; !ok {
		m.Keys = append(m.Keys, key)
	}
	m.Values[key] = value
}

// Delete removes key.
func (m *Map) Delete(key any) {
	if _, ok := m.Values[key]; !ok {
		return
	}
	delete(m.Values, key)
	for i, k := range m.Keys {
		if k == key {
			m.Keys = append(m.Keys[:i], m.Keys[i+1:]...)
			break
		}
	}
}

type node struct {
	kind     EventKind // ScalarEvent, SequenceStartEvent, MappingStartEvent
	tag      string
	value    string
	children []*node // sequence items, or key, value pairs
	start    Mark
	built    bool
	result   any
}

// SafeLoad is yaml.safe_load for one document: mappings become *Map,
// sequences []any, scalars nil, bool, int, float64 or string.
func SafeLoad(text string) (any, error) {
	runes := []rune(text)
	if err := CheckPrintable(runes); err != nil {
		return nil, err
	}
	p := NewParser(runes)
	c := &composer{p: p, anchors: map[string]*node{}}
	root, err := c.single()
	if err != nil || root == nil {
		return nil, err
	}
	return construct(root, p.s.buf, 0)
}

type composer struct {
	p       *Parser
	anchors map[string]*node
}

func (c *composer) single() (*node, error) {
	if _, err := c.p.GetEvent(); err != nil { // stream start
		return nil, err
	}
	ev, err := c.p.PeekEvent()
	if err != nil {
		return nil, err
	}
	var doc *node
	if ev.Kind != StreamEndEvent {
		c.p.GetEvent()
		if doc, err = c.compose(); err != nil {
			return nil, err
		}
		if _, err := c.p.GetEvent(); err != nil { // document end
			return nil, err
		}
	}
	ev, err = c.p.PeekEvent()
	if err != nil {
		return nil, err
	}
	if ev.Kind != StreamEndEvent {
		return nil, &MarkedError{Kind: "composer", Context: "expected a single document in the stream",
			ContextMark: &doc.start, Problem: "but found another document", ProblemMark: &ev.Start, buf: c.p.s.buf}
	}
	c.p.GetEvent()
	return doc, nil
}

func (c *composer) compose() (*node, error) {
	ev, err := c.p.GetEvent()
	if err != nil {
		return nil, err
	}
	if ev.Kind == AliasEvent {
		n, ok := c.anchors[ev.Anchor]
		if !ok {
			return nil, &MarkedError{Kind: "composer", Problem: "found undefined alias " + Repr(ev.Anchor),
				ProblemMark: &ev.Start, buf: c.p.s.buf}
		}
		return n, nil
	}
	n := &node{kind: ev.Kind, tag: ev.Tag, value: ev.Value, start: ev.Start}
	switch ev.Kind {
	case ScalarEvent:
		if n.tag == "" || n.tag == "!" {
			if ev.Implicit[0] {
				n.tag = ResolveScalar(ev.Value)
			} else {
				n.tag = TagStr
			}
		}
	case SequenceStartEvent, MappingStartEvent:
		if n.tag == "" || n.tag == "!" {
			n.tag = TagSeq
			if ev.Kind == MappingStartEvent {
				n.tag = TagMap
			}
		}
	}
	if ev.Anchor != "" {
		c.anchors[ev.Anchor] = n
	}
	if ev.Kind == ScalarEvent {
		return n, nil
	}
	for {
		next, err := c.p.PeekEvent()
		if err != nil {
			return nil, err
		}
		if next.Kind == SequenceEndEvent || next.Kind == MappingEndEvent {
			c.p.GetEvent()
			return n, nil
		}
		child, err := c.compose()
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, child)
	}
}

func construct(n *node, buf []rune, depth int) (any, error) {
	if n.built {
		return n.result, nil
	}
	if depth > 10000 {
		return nil, fmt.Errorf("document nested too deeply")
	}
	var v any
	var err error
	switch n.kind {
	case ScalarEvent:
		v, err = constructScalar(n, buf)
	case SequenceStartEvent:
		if n.tag != TagSeq {
			return nil, unknownTag(n, buf)
		}
		list := make([]any, 0, len(n.children))
		for _, ch := range n.children {
			x, err := construct(ch, buf, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, x)
		}
		v = list
	case MappingStartEvent:
		if n.tag != TagMap {
			return nil, unknownTag(n, buf)
		}
		m := &Map{Values: map[any]any{}}
		for i := 0; i+1 < len(n.children); i += 2 {
			k, err := construct(n.children[i], buf, depth+1)
			if err != nil {
				return nil, err
			}
			switch k.(type) {
			case []any, *Map:
				return nil, &MarkedError{Kind: "constructor", Context: "while constructing a mapping",
					ContextMark: &n.start, Problem: "found unhashable key", ProblemMark: &n.children[i].start, buf: buf}
			}
			val, err := construct(n.children[i+1], buf, depth+1)
			if err != nil {
				return nil, err
			}
			m.Set(k, val)
		}
		v = m
	}
	if err != nil {
		return nil, err
	}
	n.built, n.result = true, v
	return v, nil
}

func unknownTag(n *node, buf []rune) error {
	return &MarkedError{Kind: "constructor", Problem: "could not determine a constructor for the tag " + Repr(n.tag),
		ProblemMark: &n.start, buf: buf}
}

func constructScalar(n *node, buf []rune) (any, error) {
	value := n.value
	switch n.tag {
	case TagNull:
		return nil, nil
	case TagBool:
		switch strings.ToLower(value) {
		case "yes", "true", "on":
			return true, nil
		}
		return false, nil
	case TagInt:
		if i, ok := parseInt(value); ok {
			return i, nil
		}
		return nil, &MarkedError{Kind: "constructor", Problem: "invalid literal for int(): " + Repr(value), ProblemMark: &n.start, buf: buf}
	case TagFloat:
		return parseFloat(value), nil
	case TagStr, TagTimestamp, TagMerge, TagValue, TagYAML:
		return value, nil
	}
	return nil, unknownTag(n, buf)
}

func parseInt(value string) (int, bool) {
	value = strings.ReplaceAll(value, "_", "")
	sign := 1
	if strings.HasPrefix(value, "-") {
		sign = -1
	}
	if value != "" && (value[0] == '-' || value[0] == '+') {
		value = value[1:]
	}
	var i int64
	var err error
	switch {
	case value == "0":
		return 0, true
	case strings.HasPrefix(value, "0b"):
		i, err = strconv.ParseInt(value[2:], 2, 64)
	case strings.HasPrefix(value, "0x"):
		i, err = strconv.ParseInt(value[2:], 16, 64)
	case strings.HasPrefix(value, "0o"): // int(value, 8) accepts the prefix
		i, err = strconv.ParseInt(value[2:], 8, 64)
	case strings.HasPrefix(value, "0"):
		i, err = strconv.ParseInt(value, 8, 64)
	case strings.Contains(value, ":"):
		base := int64(1)
		parts := strings.Split(value, ":")
		for j := len(parts) - 1; j >= 0; j-- {
			d, e := strconv.ParseInt(parts[j], 10, 64)
			if e != nil {
				return 0, false
			}
			i += d * base
			base *= 60
		}
	default:
		i, err = strconv.ParseInt(value, 10, 64)
	}
	if err != nil {
		return 0, false
	}
	return sign * int(i), true
}

func parseFloat(value string) float64 {
	value = strings.ToLower(strings.ReplaceAll(value, "_", ""))
	sign := 1.0
	if strings.HasPrefix(value, "-") {
		sign = -1
	}
	if value != "" && (value[0] == '-' || value[0] == '+') {
		value = value[1:]
	}
	switch {
	case value == ".inf":
		return sign * math.Inf(1)
	case value == ".nan":
		return math.NaN()
	case strings.Contains(value, ":"):
		base, f := 1.0, 0.0
		parts := strings.Split(value, ":")
		for j := len(parts) - 1; j >= 0; j-- {
			d, _ := strconv.ParseFloat(parts[j], 64)
			f += d * base
			base *= 60
		}
		return sign * f
	}
	f, _ := strconv.ParseFloat(value, 64)
	return sign * f
}
