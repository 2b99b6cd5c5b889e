package expr

// Literal returns the value of a literal node (nil, bool, float64 or
// string) and true; false for any other node. Checks on calls whose
// arguments are written out (format('{0}', x), fromJSON('[1]')) use it.
func Literal(n Node) (any, bool) {
	if l, ok := n.(*literal); ok {
		return l.val, true
	}
	return nil, false
}
