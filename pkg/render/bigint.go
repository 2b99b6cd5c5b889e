package render

import (
	"cmp"
	"errors"
	"math"
	"math/big"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Python's int has no bound: integer results past int64 become *big.Int
// (printed by pyRepr) instead of wrapping around.

// bigOf returns an integer value (bool, int or *big.Int) as a big.Int.
func bigOf(v *exec.Value) (*big.Int, bool) {
	if b, ok := v.Interface().(*big.Int); ok {
		return b, true
	}
	if v.IsInteger() || v.IsBool() {
		return big.NewInt(asInt(v)), true
	}
	return nil, false
}

func isBig(v *exec.Value) bool {
	_, ok := v.Interface().(*big.Int)
	return ok
}

// intResult stores r as an int when it fits, as Python's int otherwise.
func intResult(r *big.Int) any {
	if r.IsInt64() {
		return int(r.Int64())
	}
	return r
}

// intOp applies a Python integer operator (+ - * // %) to two integers.
func intOp(op byte, a, b *exec.Value) (any, error) {
	if !isBig(a) && !isBig(b) {
		x, y := asInt(a), asInt(b)
		switch op {
		case '+':
			if s := x + y; (s > x) == (y > 0) {
				return int(s), nil
			}
		case '-':
			if d := x - y; (d < x) == (y > 0) {
				return int(d), nil
			}
		case '*':
			if x == 0 || y == 0 {
				return 0, nil
			}
			if p := x * y; p/y == x && !(x == -1 && y == math.MinInt64) && !(y == -1 && x == math.MinInt64) {
				return int(p), nil
			}
		}
	}
	x, _ := bigOf(a)
	y, _ := bigOf(b)
	r := new(big.Int)
	switch op {
	case '+':
		r.Add(x, y)
	case '-':
		r.Sub(x, y)
	case '*':
		r.Mul(x, y)
	case '/', '%':
		if y.Sign() == 0 {
			return nil, errors.New("integer division or modulo by zero")
		}
		// Go's DivMod is Euclidean (remainder >= 0); Python floors, so
		// the remainder takes the divisor's sign
		q, m := new(big.Int).DivMod(x, y, new(big.Int))
		if m.Sign() != 0 && y.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
			m.Add(m, y)
		}
		if op == '/' {
			r = q
		} else {
			r = m
		}
	}
	return intResult(r), nil
}

// bigFloat converts an integer too big for int64 like Python's float().
func bigFloat(b *big.Int) float64 {
	f, _ := new(big.Float).SetInt(b).Float64()
	return f
}

// pyCompare evaluates a < <= > >= b: exactly for integers of any size,
// as gonja does otherwise.
func pyCompare(op string) func(args *exec.VarArgs) bool {
	return func(args *exec.VarArgs) bool {
		a, b := twoArgs(args)
		var c int
		switch {
		case isInt(a) && isInt(b) && (isBig(a) || isBig(b)):
			x, _ := bigOf(a)
			y, _ := bigOf(b)
			c = x.Cmp(y)
		case isBig(a) || isBig(b):
			c = compareFloat(asFloat(a), asFloat(b))
		case a.IsFloat() || b.IsFloat():
			c = compareFloat(a.Float(), b.Float())
		case a.IsString() || b.IsString():
			c = strings.Compare(a.String(), b.String())
		default:
			c = cmp.Compare(a.Integer(), b.Integer())
		}
		switch op {
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		}
		return c >= 0
	}
}

func compareFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	case x == y:
		return 0
	}
	return 2 // NaN: every comparison false but >= and <=, which gonja also gets wrong
}
