package expr

import "strings"

func (n *literal) String() string {
	if s, ok := n.val.(string); ok {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	if n.val == nil {
		return "null"
	}
	return n.src
}

func (n *notNode) String() string { return "!" + n.x.String() }

var opText = map[tokenKind]string{
	tEqual: "==", tNotEqual: "!=", tLess: "<", tLessEqual: "<=", tGreater: ">", tGreaterEqual: ">=",
}

func (n *binary) String() string {
	return n.l.String() + " " + opText[n.op] + " " + n.r.String()
}

func (n *logical) String() string {
	parts := make([]string, len(n.args))
	for i, a := range n.args {
		parts[i] = a.String()
	}
	if n.and {
		return strings.Join(parts, " && ")
	}
	return strings.Join(parts, " || ")
}

func (n *group) String() string      { return "(" + n.x.String() + ")" }
func (n *contextRef) String() string { return n.name }

func (n *indexNode) String() string {
	switch {
	case n.idx == nil && n.prop:
		return n.x.String() + ".*"
	case n.idx == nil:
		return n.x.String() + "[*]"
	case n.prop:
		return n.x.String() + "." + n.idx.(*literal).val.(string)
	}
	return n.x.String() + "[" + n.idx.String() + "]"
}

func (n *call) String() string {
	parts := make([]string, len(n.args))
	for i, a := range n.args {
		parts[i] = a.String()
	}
	return n.name + "(" + strings.Join(parts, ", ") + ")"
}
