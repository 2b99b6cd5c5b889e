package render

import (
	"reflect"
	"sort"
	"strings"

	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Names of the helpers the rewrite calls. The prefix keeps them out of the
// way of template variables.
const (
	fnPow      = "__runner_pow"
	fnFloorDiv = "__runner_floordiv"
	fnTrueDiv  = "__runner_truediv"
	fnMod      = "__runner_mod"
	fnTuple    = "__runner_tuple"
	fnList     = "__runner_list"
	fnDict     = "__runner_dict"
	fnMul      = "__runner_mul"
	fnAdd      = "__runner_add"
	fnSub      = "__runner_sub"
	fnLt       = "__runner_lt"
	fnLe       = "__runner_le"
	fnGt       = "__runner_gt"
	fnGe       = "__runner_ge"
	fnEq       = "__runner_eq"
	fnNot      = "__runner_not"
	fnNe       = "__runner_ne"
	fnConcat   = "__runner_concat"
	fnNeg      = "__runner_neg"
	fnBigInt   = "__runner_bigint"
	fnTruthy   = "__runner_truthy"
	fnIter     = "__runner_iter"
	fnRecv     = "__runner_recv"
	fnDictAttr = "__runner_dictattr"
	filterStr  = "__runner_str"
)

var (
	binaryHelpers = map[tokens.Type]string{
		tokens.Power:              fnPow,
		tokens.FloorDivision:      fnFloorDiv,
		tokens.Division:           fnTrueDiv,
		tokens.Modulo:             fnMod,
		tokens.Multiply:           fnMul,
		tokens.Addition:           fnAdd,
		tokens.Subtraction:        fnSub,
		tokens.LowerThan:          fnLt,
		tokens.LowerThanOrEqual:   fnLe,
		tokens.GreaterThan:        fnGt,
		tokens.GreaterThanOrEqual: fnGe,
		tokens.Equals:             fnEq,
		tokens.Ne:                 fnNe,
		tokens.Tilde:              fnConcat,
	}
	expressionType = reflect.TypeFor[nodes.Expression]()
	nodeType       = reflect.TypeFor[nodes.Node]()
	nodesPkg       = reflect.TypeFor[nodes.Template]().PkgPath()
	// the package of gonja's built-in control structures
	controlStructuresPkg = "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
)

// rewrite adjusts a parsed template in place where gonja's evaluator
// differs from Jinja2: arithmetic operators become calls of Python-exact
// helpers, tuple literals keep their type, `none` is the None literal and
// every {{ }} prints through Python's str(). It returns, per line, the
// column of the line's first tag (gonja's runtime errors give only lines).
//
// gonja keeps expressions in unexported fields of its control structures,
// so the walk goes through reflection and swaps nodes through unsafe
// pointers of those fields; it only ever stores nodes.Expression values
// into fields of that type.
func rewrite(root *nodes.Template, file string) map[int]int {
	w := &walker{seen: map[uintptr]bool{}, cols: map[int]int{}, file: file}
	w.walk(reflect.ValueOf(&root).Elem())
	return w.cols
}

type walker struct {
	seen map[uintptr]bool
	cols map[int]int
	file string // the template's name, for error places
}

func (w *walker) mark(t *tokens.Token) {
	if t == nil || t.Line <= 0 {
		return
	}
	if c, ok := w.cols[t.Line]; !ok || t.Col < c {
		w.cols[t.Line] = t.Col
	}
}

// walk visits v, which must be settable.
func (w *walker) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		// expressions also sit in fields typed nodes.Node (an index, an
		// attribute's object): every replacement is both
		if v.Type() == expressionType || v.Type() == nodeType {
			if repl := w.replace(v.Elem()); repl != nil {
				v.Set(reflect.ValueOf(repl))
			}
		}
		e := v.Elem()
		if e.Kind() == reflect.Pointer {
			w.walk(e)
		}
	case reflect.Pointer:
		if v.IsNil() || w.seen[v.Pointer()] {
			return
		}
		w.seen[v.Pointer()] = true
		switch n := v.Interface().(type) {
		case *nodes.Output:
			w.mark(n.Start)
			n.Expression = printed(n.Expression, w.file)
			if n.Alternative != nil {
				n.Alternative = printed(n.Alternative, w.file)
			}
			n.Condition = truthy(n.Condition)
		case *controlStructures.IfControlStructure:
			for i, c := range n.Conditions {
				n.Conditions[i] = truthy(c)
			}
		case *controlStructures.ForControlStructure:
			n.IfCondition = truthy(n.IfCondition)
			n.ObjectEvaluator = wrapOnce(n.ObjectEvaluator, fnIter)
		case *controlStructures.SetControlStructure:
			if f := settable(v.Elem().FieldByName("condition")); f.IsValid() && f.Type() == expressionType && !f.IsNil() {
				f.Set(reflect.ValueOf(truthy(f.Interface().(nodes.Expression))))
			}
		case *nodes.ControlStructureBlock:
			w.mark(n.Location)
		case *nodes.Call:
			// gonja's parser leaves the receiver unset for a method of a
			// parenthesized expression: `('a' ~ 'b').upper()`
			if ga, ok := n.Func.(*nodes.GetAttribute); ok && n.Parent == nil {
				n.Parent = ga.Node
			}
			if ga, ok := n.Func.(*nodes.GetAttribute); ok && n.Parent != nil && orderedDictMethods[ga.Attribute] != nil {
				// see pyRecv
				n.Parent = wrapOnce(n.Parent, fnRecv)
				ga.Node = n.Parent
			}
			keepKwargsOrder(n)
		}
		el := v.Elem()
		if el.Kind() == reflect.Struct && walkable(el.Type()) {
			w.walk(el)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			w.walk(settable(v.Field(i)))
		}
	case reflect.Slice:
		for i := range v.Len() {
			w.walk(settable(v.Index(i)))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		m := v
		for _, k := range m.MapKeys() {
			val := reflect.New(m.Type().Elem()).Elem()
			val.Set(m.MapIndex(k))
			w.walk(val)
			m.SetMapIndex(k, val)
		}
	}
}

// settable returns v itself or, for a value read through an unexported
// field, the same memory as a settable value.
func settable(v reflect.Value) reflect.Value {
	if v.CanSet() || !v.CanAddr() {
		return v
	}
	return reflect.NewAt(v.Type(), v.Addr().UnsafePointer()).Elem()
}

// walkable limits the walk to gonja's syntax tree types and skips tokens,
// loaders and configuration.
var engineType = reflect.TypeOf(Engine{})

func walkable(t reflect.Type) bool {
	if t == engineType { // nodes point back at the Engine, whose cache holds other templates
		return false
	}
	switch t.PkgPath() {
	case nodesPkg, controlStructuresPkg, "github.com/birdflock/runner/pkg/render":
		return true
	}
	return false
}

// replace returns the node to store instead of n, or nil to keep n.
func (w *walker) replace(n reflect.Value) nodes.Expression {
	switch x := n.Interface().(type) {
	case *nodes.BinaryExpression:
		name, ok := binaryHelpers[x.Operator.Token.Type]
		if !ok {
			if t := x.Operator.Token.Type; t == tokens.And || t == tokens.Or {
				x.Left = truthy(x.Left)
			}
			return nil
		}
		return call(x.Operator.Token, name, x.Left, x.Right)
	case *nodes.Negation:
		return call(x.Operator, fnNot, x.Term)
	case *nodes.Tuple:
		return call(x.Location, fnTuple, x.Val...)
	case *nodes.List:
		return call(x.Location, fnList, x.Val...)
	case *nodes.Dict:
		args := make([]nodes.Expression, 0, 2*len(x.Pairs))
		for _, p := range x.Pairs {
			args = append(args, p.Key, p.Value)
		}
		return call(x.Token, fnDict, args...)
	case *nodes.String:
		if d, ok := bigLiteral(x.Val); ok {
			return call(x.Location, fnBigInt, &nodes.String{Location: x.Location, Val: d})
		}
		if v, ok := literalValue(x.Val); ok {
			x.Val = v
		}
	case *nodes.GetAttribute:
		// gonja would find the Go method or field of an ordered mapping
		// (*exec.Dict) by these names before its keys
		switch x.Attribute {
		case "Keys", "Get", "String", "Pairs":
			return call(x.Location, fnDictAttr, x.Node, &nodes.String{Location: x.Location, Val: x.Attribute})
		}
	case *nodes.UnaryExpression:
		if x.Negative {
			return call(x.Operator, fnNeg, x.Term)
		}
	case *nodes.Name:
		if x.Name.Val == "none" {
			return &nodes.None{Location: x.Name}
		}
	}
	return nil
}

func call(at *tokens.Token, fn string, args ...nodes.Expression) *nodes.Call {
	name := *at
	name.Type, name.Val = tokens.Name, fn
	if args == nil {
		args = []nodes.Expression{}
	}
	return &nodes.Call{Location: at, Func: &nodes.Name{Name: &name}, Args: args, Kwargs: map[string]nodes.Expression{}}
}

// printed wraps an output expression so it prints like Python's str(),
// and so that its errors carry the file and the expression's line:col.
func printed(e nodes.Expression, file string) nodes.Expression {
	if f, ok := e.(*nodes.FilteredExpression); ok && len(f.Filters) > 0 && f.Filters[len(f.Filters)-1].Name == filterStr {
		return e
	}
	at := e.Position()
	args := []nodes.Expression{
		&nodes.String{Location: at, Val: file},
		&nodes.Integer{Location: at, Val: at.Line},
		&nodes.Integer{Location: at, Val: at.Col},
	}
	return &nodes.FilteredExpression{
		Expression: e,
		Filters:    []*nodes.FilterCall{{Token: at, Name: filterStr, Args: args, Kwargs: map[string]nodes.Expression{}}},
	}
}

// keepKwargsOrder tells dict(...), macros called by name and .update(...)
// the order of their keyword arguments, which gonja keeps in a map (see
// kwargsInOrder).
func keepKwargsOrder(n *nodes.Call) {
	if len(n.Kwargs) < 2 || n.Kwargs[kwOrderKey] != nil {
		return
	}
	switch f := n.Func.(type) {
	case *nodes.Name:
		// dict() and macros (which pass it on to their kwargs); not
		// gonja's other globals, which would refuse the keyword
		switch name := f.Name.Val; {
		case strings.HasPrefix(name, "__runner_"):
			return
		case name == "cycler" || name == "joiner" || name == "lipsum" || name == "range" ||
			name == "_" || name == "gettext" || name == "ngettext":
			return
		}
	case *nodes.GetAttribute:
		if f.Attribute != "update" {
			return
		}
	default:
		return
	}
	names := make([]string, 0, len(n.Kwargs))
	for k := range n.Kwargs {
		names = append(names, k)
	}
	pos := func(k string) int {
		if at := n.Kwargs[k].Position(); at != nil {
			return at.Pos
		}
		return 0
	}
	sort.Slice(names, func(i, j int) bool { return pos(names[i]) < pos(names[j]) })
	n.Kwargs[kwOrderKey] = &nodes.String{Location: n.Location, Val: strings.Join(names, ",")}
}

// truthy wraps an expression whose truth gonja tests (conditions, the
// left side of and/or) so that an empty ordered mapping is false, as in
// Python: gonja finds every struct true (see pyTruthy).
func truthy(e nodes.Expression) nodes.Expression { return wrapOnce(e, fnTruthy) }

// wrapOnce wraps e in a call of the helper fn, unless it is one already
// (a parent template is walked again with its child).
func wrapOnce(e nodes.Expression, fn string) nodes.Expression {
	if e == nil {
		return nil
	}
	if c, ok := e.(*nodes.Call); ok {
		if n, ok := c.Func.(*nodes.Name); ok && n.Name.Val == fn {
			return e
		}
	}
	at := e.Position()
	if at == nil {
		at = &tokens.Token{}
	}
	return call(at, fn, e)
}

// namesUsed lists the variable names a syntax tree reads.
func namesUsed(root any) map[string]bool {
	used := map[string]bool{}
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			if n, ok := v.Interface().(*nodes.Name); ok && n.Name != nil {
				used[n.Name.Val] = true
			}
			if el := v.Elem(); el.Kind() == reflect.Struct && walkable(el.Type()) {
				walk(el)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(settable(v.Field(i)))
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(settable(v.Index(i)))
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k))
			}
		}
	}
	walk(reflect.ValueOf(root))
	return used
}
