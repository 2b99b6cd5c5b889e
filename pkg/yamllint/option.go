package yamllint

import "fmt"

type optKind uint8

const (
	optInt   optKind = iota // isinstance(v, int): bools pass too
	optBool                 // isinstance(v, bool)
	optTuple                // v in choices, or type(v) in choices
	optList                 // a list whose items are in choices (or of a type in it)
)

// typeMarker stands for a Python type inside a choices tuple.
type typeMarker string

const (
	pyInt  typeMarker = "int"
	pyBool typeMarker = "bool"
	pyStr  typeMarker = "str"
)

type option struct {
	name    string
	kind    optKind
	choices []any  // literals, or typeMarker values
	repr    string // Python repr of the tuple or list, for messages
	dflt    any
}

func (o option) def() any {
	if l, ok := o.dflt.([]any); ok {
		return append([]any(nil), l...)
	}
	return o.dflt
}

func (r *rule) option(name string) *option {
	for i := range r.Options {
		if r.Options[i].name == name {
			return &r.Options[i]
		}
	}
	return nil
}

func pyType(v any) typeMarker {
	switch v.(type) {
	case bool:
		return pyBool
	case int:
		return pyInt
	case string:
		return pyStr
	}
	return ""
}

// pyEqual is Python's == for config scalars (True == 1).
func pyEqual(a, b any) bool {
	num := func(v any) (float64, bool) {
		switch x := v.(type) {
		case bool:
			if x {
				return 1, true
			}
			return 0, true
		case int:
			return float64(x), true
		case float64:
			return x, true
		}
		return 0, false
	}
	if x, ok := num(a); ok {
		if y, ok := num(b); ok {
			return x == y
		}
		return false
	}
	if _, ok := b.(typeMarker); ok {
		return false
	}
	return a == b
}

func (o option) inChoices(v any) bool {
	t := pyType(v)
	for _, c := range o.choices {
		if m, ok := c.(typeMarker); ok {
			if t == m {
				return true
			}
			continue
		}
		if pyEqual(v, c) {
			return true
		}
	}
	return false
}

// check returns yamllint's message tail for an invalid value, or "".
func (o option) check(v any) string {
	switch o.kind {
	case optInt:
		switch v.(type) {
		case int, bool:
			return ""
		}
		return "should be int"
	case optBool:
		if _, ok := v.(bool); ok {
			return ""
		}
		return "should be bool"
	case optTuple:
		if o.inChoices(v) {
			return ""
		}
		return fmt.Sprintf("should be in %s", o.repr)
	case optList:
		l, ok := v.([]any)
		if ok {
			for _, x := range l {
				if !o.inChoices(x) {
					ok = false
					break
				}
			}
		}
		if ok {
			return ""
		}
		return fmt.Sprintf("should only contain values in %s", o.repr)
	}
	return ""
}

func intOpt(name string, def int) option   { return option{name: name, kind: optInt, dflt: def} }
func boolOpt(name string, def bool) option { return option{name: name, kind: optBool, dflt: def} }
