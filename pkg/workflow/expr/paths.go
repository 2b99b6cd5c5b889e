package expr

import (
	"fmt"
	"strings"
)

// Path is one property access in an expression, e.g. github.event.issue.title:
// the context and the literal properties after it, lower-cased, with "*"
// for a .* or [*] filter, an array position and an index computed at run
// time.
type Path struct {
	Segments []string
	Offset   int    // byte offset of the context name, as node offsets
	Text     string // the access as written (normalised spacing)
}

func (p Path) String() string { return strings.Join(p.Segments, ".") }

// Paths lists the property accesses of an expression in source order: for
// each context named, the longest chain of properties and indexes on it
// (github.event.issue.title, not also github.event). Indexes computed at
// run time are walked for their own accesses.
func Paths(n Node) []Path {
	var out []Path
	var walk func(Node)
	// chain returns the path of an index chain ending in a context, or
	// false; it walks computed indexes on the way.
	var chain func(Node) ([]string, int, bool)
	chain = func(n Node) ([]string, int, bool) {
		switch n := n.(type) {
		case *contextRef:
			return []string{strings.ToLower(n.name)}, n.off, true
		case *indexNode:
			segs, off, ok := chain(n.x)
			seg := "*"
			switch {
			case n.idx == nil, n.lit && n.pos >= 0 && !n.prop: // a filter, an array position
			case n.lit && n.hasKey:
				seg = strings.ToLower(n.key)
			default:
				walk(n.idx)
			}
			if !ok {
				return nil, 0, false
			}
			return append(segs, seg), off, true
		}
		walk(n)
		return nil, 0, false
	}
	walk = func(n Node) {
		switch n.(type) {
		case *contextRef, *indexNode:
			if segs, off, ok := chain(n); ok {
				out = append(out, Path{Segments: segs, Offset: off, Text: n.(fmt.Stringer).String()})
			}
		default:
			for _, c := range children(n) {
				walk(c)
			}
		}
	}
	if n != nil {
		walk(n)
	}
	return out
}

// children are the direct sub-expressions of n, in source order.
func children(n Node) []Node {
	switch n := n.(type) {
	case *notNode:
		return []Node{n.x}
	case *binary:
		return []Node{n.l, n.r}
	case *logical:
		return n.args
	case *group:
		return []Node{n.x}
	case *indexNode:
		if n.idx == nil {
			return []Node{n.x}
		}
		return []Node{n.x, n.idx}
	case *call:
		return n.args
	}
	return nil
}
