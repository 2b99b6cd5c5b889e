package render

import (
	"cmp"
	"errors"
	"fmt"
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

// pyNeg is Python's unary minus: exact for integers of any size (and
// bools), sign-flipping for floats (-0.0 stays a float).
func pyNeg(args *exec.VarArgs) (any, error) {
	x := args.Args[0]
	switch {
	case isInt(x):
		return intOp('-', exec.AsValue(0), x)
	case x.IsFloat():
		return -x.Float(), nil
	}
	return nil, fmt.Errorf("bad operand type for unary -: '%s'", pyTypeName(x))
}

// bigIntMarker starts the string literal escapeLiterals puts in place of
// an integer literal past int64, which gonja's parser refuses; the rewrite
// turns it back into the integer (a call of fnBigInt).
const bigIntMarker = "\x01i:"

// bigLiteral returns the decimal digits of a literal escapeLiterals made
// from a big integer literal.
func bigLiteral(v string) (string, bool) {
	d, ok := strings.CutPrefix(v, bigIntMarker)
	return d, ok && d != ""
}

// newBigInt is fnBigInt: the value of a big integer literal.
func newBigInt(args *exec.VarArgs) (any, error) {
	b, ok := new(big.Int).SetString(args.Args[0].String(), 10)
	if !ok {
		return nil, fmt.Errorf("invalid integer literal %q", args.Args[0].String())
	}
	return intResult(b), nil
}

// scanBigInt reads the integer literal at the start of s, in Jinja2's
// syntax (decimal, 0b, 0o, 0x, with single underscores between digits),
// and returns its length and its value when it does not fit an int64.
// A float literal (digits then '.digit' or an exponent) is not one.
func scanBigInt(s string) (int, *big.Int) {
	n, base := 0, 10
	if len(s) > 2 && s[0] == '0' {
		switch s[1] | 0x20 { // lower case
		case 'b':
			base = 2
		case 'o':
			base = 8
		case 'x':
			base = 16
		}
		if base != 10 {
			n = 2
		}
	}
	digits := strings.Builder{}
	for n < len(s) {
		c := s[n]
		if c == '_' && (digits.Len() > 0 || base != 10) && n+1 < len(s) && digitValue(s[n+1]) < base {
			n++
			continue
		}
		if digitValue(c) >= base {
			break
		}
		digits.WriteByte(c)
		n++
	}
	if digits.Len() < 16 { // fits int64 in every base
		return n, nil
	}
	if base == 10 && n < len(s) {
		rest := s[n:]
		if rest[0] == '.' && len(rest) > 1 && digitValue(rest[1]) < 10 {
			return n, nil // a float
		}
		if rest[0]|0x20 == 'e' {
			exp := strings.TrimLeft(rest[1:], "+-")
			if len(exp) > 0 && digitValue(exp[0]) < 10 {
				return n, nil // a float
			}
		}
	}
	b, ok := new(big.Int).SetString(digits.String(), base)
	if !ok || b.IsInt64() {
		return n, nil
	}
	return n, b
}

func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// numCmp compares two numbers exactly, as Python does (an int past int64
// against a float too); ok is false when one is NaN.
func numCmp(a, b *exec.Value) (c int, ok bool) {
	if isInt(a) && isInt(b) {
		x, _ := bigOf(a)
		y, _ := bigOf(b)
		return x.Cmp(y), true
	}
	x, okx := exactFloat(a)
	y, oky := exactFloat(b)
	if !okx || !oky {
		return 0, false
	}
	return x.Cmp(y), true
}

// exactFloat is a number as a big.Float, exactly; false for NaN.
func exactFloat(v *exec.Value) (*big.Float, bool) {
	if b, ok := bigOf(v); ok {
		return new(big.Float).SetInt(b), true
	}
	f := v.Float()
	if math.IsNaN(f) {
		return nil, false
	}
	return new(big.Float).SetFloat64(f), true
}

// floatToInt is Python's int() of a float: exact, of any size.
func floatToInt(f float64) (any, error) {
	switch {
	case math.IsNaN(f):
		return nil, errors.New("cannot convert float NaN to integer")
	case math.IsInf(f, 0):
		return nil, errors.New("cannot convert float infinity to integer")
	}
	b, _ := new(big.Float).SetFloat64(math.Trunc(f)).Int(nil)
	return intResult(b), nil
}
