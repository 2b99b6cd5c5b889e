package render

import (
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// filterPprint is Jinja2's pprint: Python's pprint.pformat, which prints
// repr() when it fits in 80 columns and otherwise one item a line, dicts in
// sorted key order. Long strings are not split as pprint splits them.
func filterPprint(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	var b strings.Builder
	pformat(&b, in, 0, 0)
	return exec.AsValue(b.String())
}

const pprintWidth = 80

// pformat is pprint's PrettyPrinter._format.
func pformat(b *strings.Builder, v *exec.Value, indent, allowance int) {
	v = exec.ToValue(v.Val)
	rep := repr(v, true)
	if len(rep) <= pprintWidth-indent-allowance {
		b.WriteString(rep)
		return
	}
	raw := v.Interface()
	switch {
	case v.IsDict() && isMapping(v):
		b.WriteByte('{')
		items := mappingItems(v)
		sortItems(items)
		in := indent + 1
		for i, it := range items {
			kr := pyQuote(it.key)
			b.WriteString(kr + ": ")
			last := i == len(items)-1
			a := 1
			if last {
				a = allowance + 1
			}
			pformat(b, it.value, in+len(kr)+2, a)
			if !last {
				b.WriteString(",\n" + strings.Repeat(" ", in))
			}
		}
		b.WriteByte('}')
	case v.IsList():
		_, tuple := raw.(pyTuple)
		items := listOf(v)
		open, end := "[", "]"
		if tuple {
			open, end = "(", ")"
			if len(items) == 1 {
				end = ",)"
			}
		}
		b.WriteString(open)
		in := indent + 1
		for i, item := range items {
			if i > 0 {
				b.WriteString(",\n" + strings.Repeat(" ", in))
			}
			a := 1
			if i == len(items)-1 {
				a = allowance + len(end)
			}
			pformat(b, exec.ToValue(item), in, a)
		}
		b.WriteString(end)
	default:
		b.WriteString(rep)
	}
}
