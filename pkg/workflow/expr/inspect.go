package expr

// Comparison is one ==, !=, <, <=, > or >= of an expression, for
// checks that look at what is compared.
type Comparison struct {
	Op          string // "==", "!=", "<", "<=", ">", ">="
	Left, Right Node
}

// Comparisons lists the comparisons of an expression in source order,
// outer ones before those inside them.
func Comparisons(n Node) []Comparison {
	var out []Comparison
	var walk func(n Node)
	walk = func(n Node) {
		if b, ok := n.(*binary); ok {
			out = append(out, Comparison{Op: opText[b.op], Left: b.l, Right: b.r})
		}
		for _, c := range children(n) {
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	return out
}

// Unwrap removes the parentheses around an expression.
func Unwrap(n Node) Node { return unwrap(n) }

func unwrap(n Node) Node {
	for {
		g, ok := n.(*group)
		if !ok {
			return n
		}
		n = g.x
	}
}

// LiteralValue returns the value of a literal (null, a boolean, a number
// or a string), parentheses aside.
func LiteralValue(n Node) (any, bool) {
	l, ok := unwrap(n).(*literal)
	if !ok {
		return nil, false
	}
	return l.val, true
}

// CallOf returns the lower-cased name and the arguments of a function
// call, parentheses aside.
func CallOf(n Node) (string, []Node, bool) {
	c, ok := unwrap(n).(*call)
	if !ok {
		return "", nil, false
	}
	return c.lname, c.args, true
}

// IsBoolean tells whether an expression always gives a boolean: a
// comparison or a !, parentheses aside.
func IsBoolean(n Node) bool {
	switch unwrap(n).(type) {
	case *binary, *notNode:
		return true
	}
	return false
}

// Compare applies a comparison operator ("==", "!=", "<", ...) to two
// values as the evaluator does, with GitHub's coercions.
func Compare(op string, l, r any) bool {
	for k, text := range opText {
		if text == op {
			return compareOp(k, Normalize(l), Normalize(r))
		}
	}
	return false
}
