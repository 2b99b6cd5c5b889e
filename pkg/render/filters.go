package render

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// --- round: Python's round() rounds half to even on the exact binary value.

func filterRound(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	precision, method := 0, "common"
	if len(params.Args) > 0 {
		precision = params.Args[0].Integer()
	}
	if len(params.Args) > 1 {
		method = params.Args[1].String()
	}
	if v, ok := params.KwArgs["precision"]; ok {
		precision = v.Integer()
	}
	if v, ok := params.KwArgs["method"]; ok {
		method = v.String()
	}
	x := in.Float()
	switch method {
	case "common":
		if isBig(in) && precision >= 0 {
			return in
		}
		if in.IsInteger() { // Python's round() of an int is an int
			if precision >= 0 {
				return in
			}
			f := int(math.Pow(10, float64(-precision)))
			return exec.AsValue(int(math.RoundToEven(float64(in.Integer())/float64(f))) * f)
		}
		if precision >= 0 {
			r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', precision, 64), 64)
			if err != nil {
				return exec.AsValue(err)
			}
			return exec.AsValue(r)
		}
		f := math.Pow(10, float64(-precision))
		return exec.AsValue(math.RoundToEven(x/f) * f)
	case "floor", "ceil":
		op := math.Floor
		if method == "ceil" {
			op = math.Ceil
		}
		f := math.Pow(10, float64(precision))
		return exec.AsValue(op(x*f) / f)
	}
	return exec.AsValue(errors.New("method must be common, ceil or floor"))
}

// defaultFilter keeps None, as Jinja2's default does unless boolean is
// true: gonja replaces it. Undefined values reach the filter as errors in
// strict mode; in lenient mode they are nil like None, so it cannot tell.
func (e *Engine) defaultFilter(orig exec.FilterFunction) exec.FilterFunction {
	return func(ev *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		boolean := len(params.Args) > 1 && params.Args[1].IsTrue()
		if v, ok := params.KwArgs["boolean"]; ok {
			boolean = v.IsTrue()
		}
		if isUndefined(in) {
			return orig(ev, exec.AsValue(nil), params)
		}
		if boolean && !pyTruth(in) {
			in = exec.AsValue(false) // an empty ordered mapping, which gonja finds true
		}
		if in.IsNil() && !boolean && !e.opts.Lenient {
			return in
		}
		return orig(ev, in, params)
	}
}

// intFilter is gonja's int, with Python's int(True) == 1 and ints of any
// size (a big float, an int past int64).
func intFilter(orig exec.FilterFunction) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		switch {
		case in.IsBool():
			if in.Bool() {
				return exec.AsValue(1)
			}
			return exec.AsValue(0)
		case isBig(in):
			return in
		case in.IsFloat() && math.Abs(in.Float()) >= 1<<63 && !math.IsInf(in.Float(), 0):
			n, err := floatToInt(in.Float())
			if err != nil {
				return exec.AsValue(err)
			}
			return exec.AsValue(n)
		}
		return orig(e, in, params)
	}
}

// absFilter is gonja's abs, exact for ints past int64.
func absFilter(orig exec.FilterFunction) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if b, ok := in.Interface().(*big.Int); ok {
			return exec.AsValue(intResult(new(big.Int).Abs(b)))
		}
		return orig(e, in, params)
	}
}

// filterReverse is Jinja2's reverse: the items backwards (gonja's sorts
// them in descending order).
func filterReverse(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	switch {
	case in.IsError():
		return in
	case in.IsString():
		r := []rune(in.String())
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return exec.AsValue(string(r))
	case in.IsList():
		items := listOf(in)
		out := make([]any, len(items))
		for i, x := range items {
			out[len(items)-1-i] = x
		}
		return exec.AsValue(out)
	case in.IsDict():
		keys := mappingKeys(in) // the mapping's order (see ordered.go)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[len(keys)-1-i] = k
		}
		return exec.AsValue(out)
	}
	return exec.AsValue(fmt.Errorf("'%s' object is not reversible", pyTypeName(in)))
}

// filterFormat is Jinja2's format filter: value % args.
func filterFormat(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	values := exec.AsValue(pyTupleOf(params.Args))
	if len(params.KwArgs) > 0 {
		if len(params.Args) > 0 {
			return exec.AsValue(errors.New("can't handle positional and keyword arguments at the same time"))
		}
		m := make(map[string]any, len(params.KwArgs))
		for k, v := range params.KwArgs {
			m[k] = v.Interface()
		}
		values = exec.AsValue(m)
	}
	s, err := pyFormat(pyStr(in), values)
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(s)
}

// urlencodeFilter is gonja's urlencode, with a mapping's pairs in the
// mapping's order (gonja sorts them) as Jinja2 does.
func urlencodeFilter(orig exec.FilterFunction) exec.FilterFunction {
	return func(ev *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if !in.IsError() && in.IsDict() && isMapping(in) {
			items := mappingItems(in)
			pairs := make([]any, len(items))
			for i, it := range items {
				pairs[i] = pyTuple{it.key, it.value.Interface()}
			}
			in = exec.AsValue(pairs)
		}
		return orig(ev, in, params)
	}
}
