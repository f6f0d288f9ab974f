package num

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAgainstMath(t *testing.T) {
	for x := -700.0; x < 700; x += 0.37 {
		if got, want := Exp(x), math.Exp(x); math.Abs(got-want) > 4e-16*want {
			t.Fatalf("Exp(%v) = %v, want %v", x, got, want)
		}
	}
	for x := 1e-300; x < 1e300; x *= 1.7 {
		if got, want := Log(x), math.Log(x); math.Abs(got-want) > 4e-16*math.Max(1, math.Abs(want)) {
			t.Fatalf("Log(%v) = %v, want %v", x, got, want)
		}
	}
	for x := -25.0; x < 25; x += 0.013 {
		if got, want := Tanh(x), math.Tanh(x); math.Abs(got-want) > 1e-15 {
			t.Fatalf("Tanh(%v) = %v, want %v", x, got, want)
		}
		if got, want := Sigmoid(x), 1/(1+math.Exp(-x)); math.Abs(got-want) > 1e-15 {
			t.Fatalf("Sigmoid(%v) = %v, want %v", x, got, want)
		}
	}
	if Exp(math.Inf(-1)) != 0 || !math.IsInf(Exp(1000), 1) || !math.IsNaN(Log(-1)) || !math.IsInf(Log(0), -1) {
		t.Fatal("special values")
	}
}

func TestNormalMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n, sum, sq := 200000, 0.0, 0.0
	for i := 0; i < n; i++ {
		x := Normal(r)
		sum += x
		sq += x * x
	}
	mean, vari := sum/float64(n), sq/float64(n)-(sum/float64(n))*(sum/float64(n))
	if math.Abs(mean) > 0.01 || math.Abs(vari-1) > 0.02 {
		t.Fatalf("mean %v var %v", mean, vari)
	}
}

func TestExp32(t *testing.T) {
	for x := float32(-87); x < 88; x += 0.0137 {
		got, want := float64(Exp32(x)), math.Exp(float64(x))
		if math.Abs(got-want) > 1.2e-7*want {
			t.Fatalf("Exp32(%v) = %v, want %v", x, got, want)
		}
	}
}
