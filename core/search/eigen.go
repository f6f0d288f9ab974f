package search

import (
	"errors"
	"math"
)

// symEigen computes the eigendecomposition of the symmetric n x n matrix a
// (row-major, read only): eigenvalues ascending in vals and the matching
// unit eigenvectors as the columns of vecs (row-major, vecs[k*n+i] is
// component k of vector i).
//
// Why not gonum's mat.EigenSym: on amd64 gonum's BLAS kernels are assembly
// (DotUnitary, for one, sums with two SSE accumulators) while js/wasm runs
// their pure-Go fallbacks, so the two targets round differently and a
// checkpoint taken in the browser would not replay natively. This is the
// classic Householder tridiagonalisation plus implicit QL (EISPACK
// tred2/tql2, as in JAMA) written with +, -, *, / and math.Sqrt only, which
// Go evaluates identically on amd64 and wasm. The tests compare it with
// gonum.
func symEigen(n int, a []float64) (vals, vecs []float64, err error) {
	v := append([]float64(nil), a...)
	d := make([]float64, n)
	e := make([]float64, n)
	tred2(n, v, d, e)
	if err := tql2(n, v, d, e); err != nil {
		return nil, nil, err
	}
	return d, v, nil
}

// hypot is sqrt(a*a+b*b) without overflow; math.Hypot would also do, but
// keeping it here keeps every operation in this file in plain sight.
func hypot(a, b float64) float64 {
	a, b = math.Abs(a), math.Abs(b)
	if a < b {
		a, b = b, a
	}
	if a == 0 {
		return 0
	}
	t := b / a
	return a * math.Sqrt(1+t*t)
}

// tred2 reduces the symmetric matrix in v to tridiagonal form (diagonal d,
// subdiagonal e[1:]) and leaves the orthogonal transformation in v.
func tred2(n int, v, d, e []float64) {
	for j := 0; j < n; j++ {
		d[j] = v[(n-1)*n+j]
	}
	for i := n - 1; i > 0; i-- {
		scale, h := 0.0, 0.0
		for k := 0; k < i; k++ {
			scale += math.Abs(d[k])
		}
		if scale == 0 {
			e[i] = d[i-1]
			for j := 0; j < i; j++ {
				d[j] = v[(i-1)*n+j]
				v[i*n+j] = 0
				v[j*n+i] = 0
			}
		} else {
			for k := 0; k < i; k++ {
				d[k] /= scale
				h += d[k] * d[k]
			}
			f := d[i-1]
			g := math.Sqrt(h)
			if f > 0 {
				g = -g
			}
			e[i] = scale * g
			h -= f * g
			d[i-1] = f - g
			for j := 0; j < i; j++ {
				e[j] = 0
			}
			for j := 0; j < i; j++ {
				f = d[j]
				v[j*n+i] = f
				g = e[j] + v[j*n+j]*f
				for k := j + 1; k <= i-1; k++ {
					g += v[k*n+j] * d[k]
					e[k] += v[k*n+j] * f
				}
				e[j] = g
			}
			f = 0
			for j := 0; j < i; j++ {
				e[j] /= h
				f += e[j] * d[j]
			}
			hh := f / (h + h)
			for j := 0; j < i; j++ {
				e[j] -= hh * d[j]
			}
			for j := 0; j < i; j++ {
				f = d[j]
				g = e[j]
				for k := j; k <= i-1; k++ {
					v[k*n+j] -= f*e[k] + g*d[k]
				}
				d[j] = v[(i-1)*n+j]
				v[i*n+j] = 0
			}
		}
		d[i] = h
	}
	for i := 0; i < n-1; i++ {
		v[(n-1)*n+i] = v[i*n+i]
		v[i*n+i] = 1
		h := d[i+1]
		if h != 0 {
			for k := 0; k <= i; k++ {
				d[k] = v[k*n+i+1] / h
			}
			for j := 0; j <= i; j++ {
				g := 0.0
				for k := 0; k <= i; k++ {
					g += v[k*n+i+1] * v[k*n+j]
				}
				for k := 0; k <= i; k++ {
					v[k*n+j] -= g * d[k]
				}
			}
		}
		for k := 0; k <= i; k++ {
			v[k*n+i+1] = 0
		}
	}
	for j := 0; j < n; j++ {
		d[j] = v[(n-1)*n+j]
		v[(n-1)*n+j] = 0
	}
	v[(n-1)*n+n-1] = 1
	e[0] = 0
}

// tql2 diagonalises the tridiagonal matrix (d, e) by implicit QL,
// accumulating rotations into v, then sorts ascending.
func tql2(n int, v, d, e []float64) error {
	for i := 1; i < n; i++ {
		e[i-1] = e[i]
	}
	e[n-1] = 0
	f, tst1 := 0.0, 0.0
	const eps = 0x1p-52
	for l := 0; l < n; l++ {
		tst1 = math.Max(tst1, math.Abs(d[l])+math.Abs(e[l]))
		m := l
		for m < n-1 && math.Abs(e[m]) > eps*tst1 {
			m++
		}
		if m > l {
			for iter := 0; ; iter++ {
				if iter == 100 {
					return errors.New("search: eigendecomposition did not converge")
				}
				g := d[l]
				p := (d[l+1] - g) / (2 * e[l])
				r := hypot(p, 1)
				if p < 0 {
					r = -r
				}
				d[l] = e[l] / (p + r)
				d[l+1] = e[l] * (p + r)
				dl1 := d[l+1]
				h := g - d[l]
				for i := l + 2; i < n; i++ {
					d[i] -= h
				}
				f += h
				p = d[m]
				c, c2, c3 := 1.0, 1.0, 1.0
				el1 := e[l+1]
				s, s2 := 0.0, 0.0
				for i := m - 1; i >= l; i-- {
					c3 = c2
					c2 = c
					s2 = s
					g = c * e[i]
					h = c * p
					r = hypot(p, e[i])
					e[i+1] = s * r
					s = e[i] / r
					c = p / r
					p = c*d[i] - s*g
					d[i+1] = h + s*(c*g+s*d[i])
					for k := 0; k < n; k++ {
						h = v[k*n+i+1]
						v[k*n+i+1] = s*v[k*n+i] + c*h
						v[k*n+i] = c*v[k*n+i] - s*h
					}
				}
				p = -s * s2 * c3 * el1 * e[l] / dl1
				e[l] = s * p
				d[l] = c * p
				if !(math.Abs(e[l]) > eps*tst1) {
					break
				}
			}
		}
		d[l] += f
		e[l] = 0
	}
	for i := 0; i < n-1; i++ {
		k := i
		p := d[i]
		for j := i + 1; j < n; j++ {
			if d[j] < p {
				k = j
				p = d[j]
			}
		}
		if k != i {
			d[k] = d[i]
			d[i] = p
			for j := 0; j < n; j++ {
				v[j*n+i], v[j*n+k] = v[j*n+k], v[j*n+i]
			}
		}
	}
	for _, x := range d {
		if math.IsNaN(x) {
			return errors.New("search: eigendecomposition produced NaN")
		}
	}
	return nil
}
