package render

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// installCompat sets up the engine's own copies of gonja's control
// structures, filters, globals and methods, with the Jinja2 fixes.
func (e *Engine) installCompat() error {
	cs := exec.NewControlStructureSet(map[string]parser.ControlStructureParser{})
	cs.Update(builtins.ControlStructures)
	origMacro, _ := cs.Get("macro")
	origSet, _ := cs.Get("set")
	for name, p := range map[string]parser.ControlStructureParser{
		"include": e.includeParser,
		"import":  e.importParser,
		"from":    e.fromParser,
		"extends": e.extendsParser,
		"macro":   e.macroParser(origMacro),
		"set":     setParser(origSet),
		"for":     e.forParser(),
		"call":    callParser,
	} {
		if err := cs.Replace(name, p); err != nil {
			return err
		}
	}
	for _, name := range controlStructureNames {
		if p, ok := cs.Get(name); ok {
			if err := cs.Replace(name, placed(p)); err != nil {
				return err
			}
		}
	}
	e.env.ControlStructures = cs

	for name, fn := range map[string]any{
		fnPow:      pyPow,
		fnFloorDiv: pyFloorDiv,
		fnTrueDiv:  pyTrueDiv,
		fnMod:      pyMod,
		fnTuple:    func(args *exec.VarArgs) pyTuple { return pyTupleOf(args.Args) },
		fnList:     newList,
		fnDict:     newDict,
		fnMul:      pyMul,
		fnAdd:      pyAdd,
		fnSub:      pySub,
		fnLt:       pyCompare("<"),
		fnLe:       pyCompare("<="),
		fnGt:       pyCompare(">"),
		fnGe:       pyCompare(">="),
		fnEq:       func(args *exec.VarArgs) bool { return pyEqual(args.Args[0], args.Args[1]) },
		fnNot:      func(args *exec.VarArgs) bool { return !pyTruth(args.Args[0]) },
		fnTruthy:   pyTruthy,
		fnIter:     pyIter,
		fnRecv:     pyRecv,
		fnDictAttr: func(args *exec.VarArgs) *exec.Value {
			obj, name := args.Args[0], args.Args[1].String()
			v, ok := obj.GetAttribute(name)
			if d, isDict := dictOf(obj); isDict {
				v, ok = mappingGet(exec.AsValue(d), name)
			}
			if !ok {
				v, ok = obj.GetItem(name)
			}
			switch {
			case ok:
				return v
			case e.opts.Lenient:
				return exec.AsValue(nil)
			}
			return exec.AsValue(fmt.Errorf("'%s object' has no attribute '%s'", pyTypeName(obj), name))
		},
		fnNe:     func(args *exec.VarArgs) bool { return !pyEqual(args.Args[0], args.Args[1]) },
		fnNeg:    pyNeg,
		fnBigInt: newBigInt,
		fnConcat: func(args *exec.VarArgs) string {
			var b strings.Builder
			for _, a := range args.Args {
				b.WriteString(pyStr(a))
			}
			return b.String()
		},
		"range":     pyRange,
		"dict":      dictGlobal,
		"namespace": namespaceGlobal,
	} {
		e.env.Context.Set(name, fn)
	}

	if err := e.env.Filters.Register(filterStr, func(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return placeError(in, params)
		}
		if u, ok := in.Interface().(undefined); ok {
			if e.opts.Lenient || u.lenient {
				return exec.AsValue("")
			}
			return placeError(exec.AsValue(errors.New(u.msg)), params)
		}
		if e.opts.Lenient && in.IsNil() {
			// gonja gives undefined names as nil: print them as Jinja2's
			// Undefined (empty), at the price of None printing empty too
			return exec.AsValue("")
		}
		return exec.AsValue(pyStr(in))
	}); err != nil {
		return err
	}
	origInt, _ := e.env.Filters.Get("int")
	origAbs, _ := e.env.Filters.Get("abs")
	origDefault, _ := e.env.Filters.Get("default")
	origURLEncode, _ := e.env.Filters.Get("urlencode")
	// select and friends fail on an unknown test, as Jinja2 does (gonja
	// selects nothing)
	for name, testArg := range map[string]int{"select": 0, "reject": 0, "selectattr": 1, "rejectattr": 1} {
		orig, _ := e.env.Filters.Get(name)
		if err := e.env.Filters.Replace(name, func(ev *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
			if len(params.Args) > testArg {
				if t := params.Args[testArg].String(); !e.env.Tests.Exists(t) {
					return exec.AsValue(fmt.Errorf("No test named '%s'", t))
				}
			} else if testArg == 0 && in.IsList() {
				// no test: the items' truth, which gonja gets wrong for
				// an empty ordered mapping
				keep := name == "select"
				out := []any{}
				for _, x := range listOf(in) {
					if pyTruth(exec.ToValue(x)) == keep {
						out = append(out, x)
					}
				}
				return exec.AsValue(out)
			}
			return orig(ev, in, params)
		}); err != nil {
			return err
		}
	}
	for name, f := range map[string]exec.FilterFunction{
		"dictsort":  filterDictSort,
		"urlencode": urlencodeFilter(origURLEncode),
		"items":     filterItems,
		"sum":       filterSum,
		"pprint":    filterPprint,
		"center":    filterCenter,
		"wordwrap":  filterWordwrap,
		"attr":      e.attrFilter,
		"string": func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
			if in.IsError() {
				return in
			}
			return exec.AsValue(pyStr(in))
		},
		"tojson":  filterToJSON,
		"reverse": filterReverse,
		"min":     filterMinMax(-1),
		"max":     filterMinMax(1),
		"int":     intFilter(origInt),
		"abs":     absFilter(origAbs),
		"default": e.defaultFilter(origDefault),
		"d":       e.defaultFilter(origDefault),
		"round":   filterRound,
		"format":  filterFormat,
		"upper": func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
			if in.IsError() {
				return in
			}
			return exec.AsValue(pyUpper(pyStr(in)))
		},
	} {
		if err := e.env.Filters.Replace(name, f); err != nil {
			return err
		}
	}
	// Jinja2's sequence test: anything with a length and items by index
	if err := e.env.Tests.Replace("sequence", func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return in.IsList() || in.IsString() || in.IsDict(), nil
	}); err != nil {
		return err
	}
	// Jinja2's number and integer tests: bools are numbers, not integers;
	// ints past int64 are both
	if err := e.env.Tests.Replace("number", func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return isNum(in), nil
	}); err != nil {
		return err
	}
	if err := e.env.Tests.Replace("integer", func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return isInt(in) && !in.IsBool(), nil
	}); err != nil {
		return err
	}
	if err := e.env.Tests.Replace("defined", func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return !in.IsError() && !in.IsNil() && !isUndefined(in), nil
	}); err != nil {
		return err
	}
	if err := e.env.Tests.Replace("undefined", func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return in.IsError() || in.IsNil() || isUndefined(in), nil
	}); err != nil {
		return err
	}
	for name, set := range map[string]interface{ Exists(string) bool }{"filter": e.env.Filters, "test": e.env.Tests} {
		if err := e.env.Tests.Replace(name, func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
			return in.IsString() && !strings.HasPrefix(in.String(), "__runner_") && set.Exists(in.String()), nil
		}); err != nil {
			return err
		}
	}
	if err := e.env.Tests.Replace("escaped", func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return in.Safe, nil
	}); err != nil {
		return err
	}
	methods := e.env.Methods // a copy: the struct holds pointers to gonja's sets
	methods.Str = strMethods()
	methods.List = listMethods()
	methods.Dict = dictMethods()
	e.env.Methods = methods
	return nil
}

var controlStructureNames = strings.Fields(`autoescape block extends filter for from if
	import include macro raw set with do break continue trans call`)

// placed gives a position to the parse errors gonja's tag parsers return
// without one: the tag's first argument, or the token after the tag.
func placed(orig parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		at := args.Current()
		if at == nil || at.Line == 0 {
			at = p.Current()
		}
		cs, err := orig(p, args)
		if err == nil || at == nil || at.Line == 0 {
			return cs, err
		}
		var se *parser.SyntaxError
		var re *Error
		if errors.As(err, &re) || errors.As(err, &se) && se.Line > 0 {
			return cs, err
		}
		msg := err.Error()
		if se != nil {
			msg = se.Message
		}
		return cs, &parser.SyntaxError{Message: msg, Raw: at.Val, Line: at.Line, Column: at.Col}
	}
}
