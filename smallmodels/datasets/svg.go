package datasets

import (
	"fmt"
	"image"
	"math"
	"regexp"
	"strconv"

	"golang.org/x/image/vector"
)

// pathSink receives absolute path commands (already in output pixels).
type pathSink interface {
	MoveTo(x, y float32)
	LineTo(x, y float32)
	QuadTo(x1, y1, x2, y2 float32)
	CubeTo(x1, y1, x2, y2, x3, y3 float32)
	ClosePath()
}

// pathLexer scans SVG path data: command letters, numbers in compact syntax
// ("1.5.5", "2-3", "1e-2") and single-character arc flags.
type pathLexer struct {
	s string
	i int
}

func (l *pathLexer) skipSep() {
	for l.i < len(l.s) {
		switch l.s[l.i] {
		case ' ', '\t', '\n', '\r', ',':
			l.i++
		default:
			return
		}
	}
}

func (l *pathLexer) atNumber() bool {
	l.skipSep()
	if l.i >= len(l.s) {
		return false
	}
	c := l.s[l.i]
	return c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9')
}

func (l *pathLexer) number() (float64, error) {
	l.skipSep()
	start := l.i
	if l.i < len(l.s) && (l.s[l.i] == '-' || l.s[l.i] == '+') {
		l.i++
	}
	dot, digits := false, false
	for l.i < len(l.s) {
		c := l.s[l.i]
		if c >= '0' && c <= '9' {
			digits = true
			l.i++
		} else if c == '.' && !dot {
			dot = true
			l.i++
		} else {
			break
		}
	}
	if digits && l.i < len(l.s) && (l.s[l.i] == 'e' || l.s[l.i] == 'E') {
		j := l.i + 1
		if j < len(l.s) && (l.s[j] == '-' || l.s[j] == '+') {
			j++
		}
		if j < len(l.s) && l.s[j] >= '0' && l.s[j] <= '9' {
			l.i = j
			for l.i < len(l.s) && l.s[l.i] >= '0' && l.s[l.i] <= '9' {
				l.i++
			}
		}
	}
	if !digits {
		return 0, fmt.Errorf("svg path: bad number at %d in %.40q", start, l.s[start:])
	}
	return strconv.ParseFloat(l.s[start:l.i], 64)
}

func (l *pathLexer) flag() (bool, error) {
	l.skipSep()
	if l.i < len(l.s) && (l.s[l.i] == '0' || l.s[l.i] == '1') {
		l.i++
		return l.s[l.i-1] == '1', nil
	}
	return false, fmt.Errorf("svg path: bad arc flag at %d", l.i)
}

// drawPath parses SVG path data and emits it to sink, scaled by scale.
// Supports M L H V C S Q T A Z in absolute and relative forms.
func drawPath(d string, scale float64, sink pathSink) error {
	l := &pathLexer{s: d}
	var cx, cy, sx, sy float64 // current point, subpath start
	var lcx, lcy float64       // last control point (for S/T)
	var prev byte              // previous command (upper case)
	open := false
	emitM := func(x, y float64) {
		if open {
			sink.ClosePath()
		}
		sink.MoveTo(float32(x*scale), float32(y*scale))
		open = true
	}
	p := func(v float64) float32 { return float32(v * scale) }
	var cmd byte
	for {
		l.skipSep()
		if l.i >= len(l.s) {
			break
		}
		c := l.s[l.i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			cmd = c
			l.i++
		} else if cmd == 0 {
			return fmt.Errorf("svg path: data does not start with a command")
		} else if cmd == 'M' {
			cmd = 'L' // implicit lineto after moveto
		} else if cmd == 'm' {
			cmd = 'l'
		}
		rel := cmd >= 'a'
		up := cmd &^ 0x20
		ox, oy := 0.0, 0.0
		if rel {
			ox, oy = cx, cy
		}
		nums := func(n int) ([]float64, error) {
			v := make([]float64, n)
			for k := range v {
				f, err := l.number()
				if err != nil {
					return nil, err
				}
				v[k] = f
			}
			return v, nil
		}
		switch up {
		case 'Z':
			if open {
				sink.ClosePath()
				open = false
			}
			cx, cy = sx, sy
			prev = 'Z'
			continue
		case 'M':
			v, err := nums(2)
			if err != nil {
				return err
			}
			cx, cy = ox+v[0], oy+v[1]
			sx, sy = cx, cy
			emitM(cx, cy)
		case 'L':
			v, err := nums(2)
			if err != nil {
				return err
			}
			cx, cy = ox+v[0], oy+v[1]
			sink.LineTo(p(cx), p(cy))
		case 'H':
			v, err := nums(1)
			if err != nil {
				return err
			}
			cx = ox + v[0]
			sink.LineTo(p(cx), p(cy))
		case 'V':
			v, err := nums(1)
			if err != nil {
				return err
			}
			cy = oy + v[0]
			sink.LineTo(p(cx), p(cy))
		case 'C', 'S':
			var x1, y1 float64
			var v []float64
			var err error
			if up == 'C' {
				if v, err = nums(6); err != nil {
					return err
				}
				x1, y1 = ox+v[0], oy+v[1]
				v = v[2:]
			} else {
				if v, err = nums(4); err != nil {
					return err
				}
				x1, y1 = cx, cy
				if prev == 'C' || prev == 'S' {
					x1, y1 = 2*cx-lcx, 2*cy-lcy
				}
			}
			x2, y2, x3, y3 := ox+v[0], oy+v[1], ox+v[2], oy+v[3]
			sink.CubeTo(p(x1), p(y1), p(x2), p(y2), p(x3), p(y3))
			lcx, lcy, cx, cy = x2, y2, x3, y3
		case 'Q', 'T':
			var x1, y1 float64
			var v []float64
			var err error
			if up == 'Q' {
				if v, err = nums(4); err != nil {
					return err
				}
				x1, y1 = ox+v[0], oy+v[1]
				v = v[2:]
			} else {
				if v, err = nums(2); err != nil {
					return err
				}
				x1, y1 = cx, cy
				if prev == 'Q' || prev == 'T' {
					x1, y1 = 2*cx-lcx, 2*cy-lcy
				}
			}
			x2, y2 := ox+v[0], oy+v[1]
			sink.QuadTo(p(x1), p(y1), p(x2), p(y2))
			lcx, lcy, cx, cy = x1, y1, x2, y2
		case 'A':
			v, err := nums(3)
			if err != nil {
				return err
			}
			large, err := l.flag()
			if err != nil {
				return err
			}
			sweep, err := l.flag()
			if err != nil {
				return err
			}
			e, err := nums(2)
			if err != nil {
				return err
			}
			x2, y2 := ox+e[0], oy+e[1]
			arcTo(cx, cy, v[0], v[1], v[2], large, sweep, x2, y2, func(a, b, c, d, e, f float64) {
				sink.CubeTo(p(a), p(b), p(c), p(d), p(e), p(f))
			})
			cx, cy = x2, y2
		default:
			return fmt.Errorf("svg path: unsupported command %q", cmd)
		}
		prev = up
	}
	if open {
		sink.ClosePath()
	}
	return nil
}

// arcTo converts an SVG elliptical arc to cubic Béziers (SVG 1.1 F.6.5).
func arcTo(x1, y1, rx, ry, phiDeg float64, large, sweep bool, x2, y2 float64, cube func(a, b, c, d, e, f float64)) {
	if x1 == x2 && y1 == y2 {
		return
	}
	rx, ry = math.Abs(rx), math.Abs(ry)
	if rx == 0 || ry == 0 {
		cube(x1, y1, x2, y2, x2, y2)
		return
	}
	phi := phiDeg * math.Pi / 180
	cp, sp := math.Cos(phi), math.Sin(phi)
	dx, dy := (x1-x2)/2, (y1-y2)/2
	x1p := cp*dx + sp*dy
	y1p := -sp*dx + cp*dy
	lam := x1p*x1p/(rx*rx) + y1p*y1p/(ry*ry)
	if lam > 1 {
		s := math.Sqrt(lam)
		rx, ry = rx*s, ry*s
	}
	num := rx*rx*ry*ry - rx*rx*y1p*y1p - ry*ry*x1p*x1p
	den := rx*rx*y1p*y1p + ry*ry*x1p*x1p
	co := 0.0
	if den > 0 && num > 0 {
		co = math.Sqrt(num / den)
	}
	if large == sweep {
		co = -co
	}
	cxp := co * rx * y1p / ry
	cyp := -co * ry * x1p / rx
	ccx := cp*cxp - sp*cyp + (x1+x2)/2
	ccy := sp*cxp + cp*cyp + (y1+y2)/2
	ang := func(ux, uy, vx, vy float64) float64 {
		return math.Atan2(ux*vy-uy*vx, ux*vx+uy*vy)
	}
	t1 := ang(1, 0, (x1p-cxp)/rx, (y1p-cyp)/ry)
	dt := ang((x1p-cxp)/rx, (y1p-cyp)/ry, (-x1p-cxp)/rx, (-y1p-cyp)/ry)
	if !sweep && dt > 0 {
		dt -= 2 * math.Pi
	} else if sweep && dt < 0 {
		dt += 2 * math.Pi
	}
	n := int(math.Ceil(math.Abs(dt) / (math.Pi / 2)))
	if n < 1 {
		n = 1
	}
	step := dt / float64(n)
	k := 4.0 / 3 * math.Tan(step/4)
	pt := func(t float64) (float64, float64, float64, float64) {
		ct, st := math.Cos(t), math.Sin(t)
		x := ccx + rx*ct*cp - ry*st*sp
		y := ccy + rx*ct*sp + ry*st*cp
		// derivative
		ddx := -rx*st*cp - ry*ct*sp
		ddy := -rx*st*sp + ry*ct*cp
		return x, y, ddx, ddy
	}
	t := t1
	ax, ay, adx, ady := pt(t)
	for i := 0; i < n; i++ {
		bx, by, bdx, bdy := pt(t + step)
		if i == n-1 {
			bx, by = x2, y2
		}
		cube(ax+k*adx, ay+k*ady, bx-k*bdx, by-k*bdy, bx, by)
		t += step
		ax, ay, adx, ady = bx, by, bdx, bdy
	}
}

var (
	svgPathRe    = regexp.MustCompile(`<path\b[^>]*>`)
	svgDRe       = regexp.MustCompile(`\sd="([^"]*)"`)
	svgOpacityRe = regexp.MustCompile(`\s(?:fill-)?opacity="([^"]*)"`)
)

// rasterSVG renders the <path> elements of a Phosphor-style SVG (viewBox
// 0 0 viewBox viewBox, filled paths, optional opacity) black on white.
func rasterSVG(svg string, viewBox float64) ([]byte, error) {
	scale := float64(side) / viewBox
	grey := make([]float64, side*side)
	for i := range grey {
		grey[i] = 1
	}
	z := vector.NewRasterizer(side, side)
	a := image.NewAlpha(image.Rect(0, 0, side, side))
	paths := svgPathRe.FindAllString(svg, -1)
	if len(paths) == 0 {
		return nil, fmt.Errorf("svg: no <path> elements")
	}
	for _, tag := range paths {
		dm := svgDRe.FindStringSubmatch(tag)
		if dm == nil {
			continue
		}
		op := 1.0
		if om := svgOpacityRe.FindStringSubmatch(tag); om != nil {
			if v, err := strconv.ParseFloat(om[1], 64); err == nil {
				op = v
			}
		}
		z.Reset(side, side)
		if err := drawPath(dm[1], scale, z); err != nil {
			return nil, err
		}
		for i := range a.Pix {
			a.Pix[i] = 0
		}
		z.Draw(a, a.Bounds(), image.Opaque, image.Point{})
		for i, v := range a.Pix {
			grey[i] *= 1 - op*float64(v)/255
		}
	}
	g := make([]byte, side*side)
	for i, v := range grey {
		g[i] = uint8(math.Round(v * 255))
	}
	return greyToCHW(g), nil
}
