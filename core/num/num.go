// Package num holds elementary functions that give bit-identical results on
// every target. The standard library's math.Exp and math.Log use assembly on
// amd64 and pure Go on js/wasm, which may differ in the last bit; a search
// that must replay identically in the browser and natively cannot afford
// that, so everything seeded or compared goes through these instead. They use
// only +, -, *, / and exact operations (math.Ldexp, math.Frexp, math.Sqrt),
// which Go evaluates identically on amd64 (no FMA fusion at GOAMD64=v1) and wasm.
package num

import "math"

const (
	ln2Hi = 6.93147180369123816490e-01 // high bits of ln 2
	ln2Lo = 1.90821492927058770002e-10 // ln 2 - ln2Hi
	log2e = 1.44269504088896338700e+00
)

// Exp returns e**x, accurate to about one ulp.
func Exp(x float64) float64 {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 1):
		return x
	case math.IsInf(x, -1):
		return 0
	case x > 709.78:
		return math.Inf(1)
	case x < -745.2:
		return 0
	}
	// x = k*ln2 + r with |r| <= ln2/2.
	k := math.Floor(x*log2e + 0.5)
	r := (x - k*ln2Hi) - k*ln2Lo
	// exp(r) by its Taylor series, Horner form; |r| < 0.35 so 16 terms reach below 1e-17.
	p := 1.0
	for i := 16; i >= 1; i-- {
		p = 1 + p*r/float64(i)
	}
	return math.Ldexp(p, int(k))
}

// Log returns the natural logarithm of x.
func Log(x float64) float64 {
	switch {
	case math.IsNaN(x) || x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	case math.IsInf(x, 1):
		return x
	}
	f, e := math.Frexp(x) // x = f * 2^e, f in [0.5, 1)
	if f < math.Sqrt2/2 {
		f *= 2
		e--
	}
	// log(f) = 2 atanh(s), s = (f-1)/(f+1), |s| < 0.172.
	s := (f - 1) / (f + 1)
	s2 := s * s
	sum := 0.0
	for i := 25; i >= 1; i -= 2 {
		sum = 1/float64(i) + s2*sum
	}
	return 2*s*sum + float64(e)*ln2Lo + float64(e)*ln2Hi
}

// Tanh returns the hyperbolic tangent of x.
func Tanh(x float64) float64 {
	if x > 20 {
		return 1
	}
	if x < -20 {
		return -1
	}
	if math.Abs(x) < 1e-3 {
		x2 := x * x
		return x * (1 - x2/3 + 2*x2*x2/15)
	}
	e := Exp(2 * x)
	return (e - 1) / (e + 1)
}

// Sigmoid returns 1/(1+e**-x).
func Sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + Exp(-x))
	}
	e := Exp(x)
	return e / (1 + e)
}

// Normal draws a standard normal variate from r by Marsaglia's polar method,
// which needs only Log and Sqrt (math/rand's NormFloat64 calls math.Exp).
func Normal(r interface{ Float64() float64 }) float64 {
	for {
		u := 2*r.Float64() - 1
		v := 2*r.Float64() - 1
		s := u*u + v*v
		if s > 0 && s < 1 {
			return u * math.Sqrt(-2*Log(s)/s)
		}
	}
}

// Exp32 is a faster exp for float32 activations (softmax, sigmoid); relative
// error below 1e-9, well under float32's resolution, and bit-identical on every target.
func Exp32(x float32) float32 {
	if x < -87 {
		return 0
	}
	if x > 88 {
		return float32(math.Inf(1))
	}
	xd := float64(x)
	t := xd*log2e + 0.5
	ki := int64(t) // truncation, then floor: cheaper than math.Floor without SSE4
	if float64(ki) > t {
		ki--
	}
	k := float64(ki)
	r := (xd - k*ln2Hi) - k*ln2Lo
	// Degree 7 suffices for float32: |r| < 0.35 gives a truncation error below 6e-9.
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	// Scaling by 2^k through the exponent bits is exact here (|k| < 130) and
	// much cheaper than math.Ldexp.
	return float32(p * math.Float64frombits(uint64(ki+1023)<<52))
}
