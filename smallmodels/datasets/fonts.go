package datasets

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gobolditalic"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/gomedium"
	"golang.org/x/image/font/gofont/gomediumitalic"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/gofont/gomonobolditalic"
	"golang.org/x/image/font/gofont/gomonoitalic"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// FontPackages are the Debian font packages fetch.sh downloads (name=version).
var FontPackages = []string{
	"fonts-dejavu-core=2.37-6", "fonts-dejavu-extra=2.37-6", "fonts-liberation2=2.1.5-1",
	"fonts-crosextra-carlito=20220224-1", "fonts-crosextra-caladea=20200211-1", "fonts-croscore=20201225-1",
	"fonts-open-sans=1.11-2", "fonts-roboto-unhinted=2:0~20170802-3", "fonts-roboto-slab=1.100263+20170512-2",
	"fonts-lato=2.0-2.1", "fonts-cantarell=0.303.1-1", "fonts-linuxlibertine=5.3.0-6",
	"fonts-ebgaramond=0.016+git20210310.42d4f9f2-1", "fonts-comic-neue=2.51-4", "fonts-hack=3.003-3",
	"fonts-firacode=6.2-2", "fonts-stix=1.1.1-4.1", "fonts-quattrocento=1.1-2.1", "fonts-league-spartan=2.210-1",
	"fonts-paratype=20181108-3", "fonts-sil-gentium=20081126:1.03-4", "fonts-sil-andika=6.101-2",
	"fonts-cabin=1.5-3", "fonts-inter=4.0~beta7+ds-1", "fonts-jetbrains-mono=2.242+ds-3", "fonts-lobster=2.0-2.1",
	"fonts-oldstandard=2.2really-4", "fonts-vollkorn=4.105-2", "fonts-yanone-kaffeesatz=2.0+git20211102+ds-1",
	"fonts-anonymous-pro=1.003-4", "fonts-mononoki=1.5+dfsg-1", "fonts-averia-gwf=1.00-3.1",
	"fonts-averia-sans-gwf=1.00-2.1", "fonts-averia-serif-gwf=1.00-2.1", "fonts-b612=1.008-3", "fonts-fanwood=1.1-7",
	"fonts-goudybookletter=2010.07.03-6", "fonts-noto-mono=20201225-1", "fonts-oxygen=4:5.4.3-4",
	"fonts-gfs-didot=1.1-7", "fonts-humor-sans=1.0-4", "fonts-levien-museum=001.002-5", "fonts-kristi=20101220-1",
	"fonts-dkg-handwriting=0.17-1", "fonts-opendyslexic=20160623-4",
}

var styleNames = []string{"regular", "bold", "italic", "bold-italic"}

// glyph is one rendered letter.
type glyph struct {
	family string // normalised family name (group key)
	style  int    // index into styleNames, -1 when neither regular nor bold
	letter int    // 0..25
	x      []byte
}

type fontFile struct {
	name string // path or gofont id, for messages
	data []byte
}

var glyphCache struct {
	raw    string
	glyphs []glyph
	faces  int
}

func fontFiles(raw string) ([]fontFile, error) {
	var files []fontFile
	for _, pv := range FontPackages {
		pkg := pv[:strings.IndexByte(pv, '=')]
		root, err := need(raw, "deb", pkg, "usr/share/fonts")
		if err != nil {
			return nil, err
		}
		var paths []string
		err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := strings.ToLower(filepath.Ext(p))
			if !d.IsDir() && (ext == ".ttf" || ext == ".otf") {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(paths)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			files = append(files, fontFile{name: p, data: b})
		}
	}
	gof := []struct {
		n string
		b []byte
	}{
		{"goregular", goregular.TTF}, {"gobold", gobold.TTF}, {"goitalic", goitalic.TTF},
		{"gobolditalic", gobolditalic.TTF}, {"gomedium", gomedium.TTF}, {"gomediumitalic", gomediumitalic.TTF},
		{"gomono", gomono.TTF}, {"gomonobold", gomonobold.TTF}, {"gomonoitalic", gomonoitalic.TTF},
		{"gomonobolditalic", gomonobolditalic.TTF},
	}
	for _, g := range gof {
		files = append(files, fontFile{name: "gofont/" + g.n, data: g.b})
	}
	return files, nil
}

var familyStyleWords = []string{"extralight", "ultralight", "semilight", "demilight", "hairline", "thin", "light", "book",
	"extrabold", "ultrabold", "semibold", "demibold", "bold", "black", "heavy", "medium", "regular", "italic", "oblique",
	"condensed", "semicondensed", "extra", "semi", "demi", "ultra", "display", "text"}

// normFamily lowercases a family name and strips trailing weight/width words,
// so "Lato Black" and "Lato" share a group.
func normFamily(s string) string {
	words := strings.Fields(strings.ToLower(strings.ReplaceAll(s, "-", " ")))
	for len(words) > 1 {
		w := words[len(words)-1]
		found := false
		for _, sw := range familyStyleWords {
			if w == sw {
				found = true
				break
			}
		}
		if !found {
			break
		}
		words = words[:len(words)-1]
	}
	return strings.Join(words, " ")
}

// classifyStyle maps a subfamily name to regular/bold/italic/bold-italic, or -1.
func classifyStyle(sub string) int {
	s := strings.ToLower(sub)
	italic := false
	for _, w := range []string{"italic", "oblique", "slanted", "kursiv"} {
		if strings.Contains(s, w) {
			italic = true
			s = strings.ReplaceAll(s, w, "")
		}
	}
	s = strings.TrimSpace(strings.ReplaceAll(s, " ", ""))
	var weight int
	switch s {
	case "", "regular", "roman", "book", "normal", "plain":
		weight = 0
	case "bold":
		weight = 1
	default:
		return -1
	}
	if italic {
		return 2 + weight
	}
	return weight
}

func loadGlyphs(raw string) ([]glyph, error) {
	if glyphCache.raw == raw && glyphCache.glyphs != nil {
		return glyphCache.glyphs, nil
	}
	files, err := fontFiles(raw)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []glyph
	var buf sfnt.Buffer
	faces := 0
	for _, ff := range files {
		f, err := opentype.Parse(ff.data)
		if err != nil {
			continue // a few files use outlines the parser does not support
		}
		fam, _ := f.Name(&buf, sfnt.NameIDTypographicFamily)
		if fam == "" {
			fam, _ = f.Name(&buf, sfnt.NameIDFamily)
		}
		sub, _ := f.Name(&buf, sfnt.NameIDTypographicSubfamily)
		if sub == "" {
			sub, _ = f.Name(&buf, sfnt.NameIDSubfamily)
		}
		if fam == "" {
			continue
		}
		family := normFamily(fam)
		id := family + "|" + strings.ToLower(fam) + "|" + strings.ToLower(sub)
		if seen[id] {
			continue // same face shipped twice (e.g. hinted and unhinted copies)
		}
		imgs, ok := renderLetters(f, &buf)
		if !ok {
			continue
		}
		seen[id] = true
		faces++
		st := classifyStyle(sub)
		for l, x := range imgs {
			out = append(out, glyph{family: family, style: st, letter: l, x: x})
		}
	}
	if faces == 0 {
		return nil, fmt.Errorf("no usable font faces under %s/deb", raw)
	}
	glyphCache.raw, glyphCache.glyphs, glyphCache.faces = raw, out, faces
	return out, nil
}

const glyphPPEM = 1024

type seg struct {
	op  sfnt.SegmentOp
	pts [3][2]float32
}

func glyphSegs(f *sfnt.Font, buf *sfnt.Buffer, r rune) ([]seg, [4]float32, bool) {
	gi, err := f.GlyphIndex(buf, r)
	if err != nil || gi == 0 {
		return nil, [4]float32{}, false
	}
	ss, err := f.LoadGlyph(buf, gi, fixed.I(glyphPPEM), nil)
	if err != nil || len(ss) == 0 {
		return nil, [4]float32{}, false
	}
	bb := [4]float32{1e9, 1e9, -1e9, -1e9}
	out := make([]seg, len(ss))
	for i, s := range ss {
		out[i].op = s.Op
		n := 1
		switch s.Op {
		case sfnt.SegmentOpQuadTo:
			n = 2
		case sfnt.SegmentOpCubeTo:
			n = 3
		}
		for j := 0; j < n; j++ {
			x, y := float32(s.Args[j].X)/64, float32(s.Args[j].Y)/64
			out[i].pts[j] = [2]float32{x, y}
			bb[0], bb[1] = min(bb[0], x), min(bb[1], y)
			bb[2], bb[3] = max(bb[2], x), max(bb[3], y)
		}
	}
	return out, bb, bb[2] > bb[0] && bb[3] > bb[1]
}

// renderLetters renders A-Z black on white, cap height about 22 px, centred.
func renderLetters(f *sfnt.Font, buf *sfnt.Buffer) ([][]byte, bool) {
	_, hb, ok := glyphSegs(f, buf, 'H')
	if !ok {
		return nil, false
	}
	base := 22 / (hb[3] - hb[1])
	imgs := make([][]byte, 26)
	z := vector.NewRasterizer(side, side)
	for l := 0; l < 26; l++ {
		segs, bb, ok := glyphSegs(f, buf, rune('A'+l))
		if !ok {
			return nil, false
		}
		w, h := bb[2]-bb[0], bb[3]-bb[1]
		s := base
		if w*s > 30 {
			s = 30 / w
		}
		if h*s > 30 {
			s = 30 / h
		}
		ox := (side-w*s)/2 - bb[0]*s
		oy := (side-h*s)/2 - bb[1]*s
		tr := func(p [2]float32) (float32, float32) { return p[0]*s + ox, p[1]*s + oy }
		z.Reset(side, side)
		started := false
		for _, sg := range segs {
			switch sg.op {
			case sfnt.SegmentOpMoveTo:
				if started {
					z.ClosePath()
				}
				started = true
				z.MoveTo(tr(sg.pts[0]))
			case sfnt.SegmentOpLineTo:
				z.LineTo(tr(sg.pts[0]))
			case sfnt.SegmentOpQuadTo:
				x1, y1 := tr(sg.pts[0])
				x2, y2 := tr(sg.pts[1])
				z.QuadTo(x1, y1, x2, y2)
			case sfnt.SegmentOpCubeTo:
				x1, y1 := tr(sg.pts[0])
				x2, y2 := tr(sg.pts[1])
				x3, y3 := tr(sg.pts[2])
				z.CubeTo(x1, y1, x2, y2, x3, y3)
			}
		}
		z.ClosePath()
		a := image.NewAlpha(image.Rect(0, 0, side, side))
		z.Draw(a, a.Bounds(), image.Opaque, image.Point{})
		g := make([]byte, side*side)
		for i := range g {
			g[i] = 255 - a.Pix[i]
		}
		imgs[l] = greyToCHW(g)
	}
	return imgs, true
}

const fontSource = "deb:fonts-* (45 packages, see smallmodels/licenses/fonts.md) + go:golang.org/x/image@v0.48.0/font/gofont"

func buildLetter(raw string) (Built, error) {
	gs, err := loadGlyphs(raw)
	if err != nil {
		return Built{}, err
	}
	items := make([]item, len(gs))
	for i, g := range gs {
		items[i] = item{group: g.family, label: g.letter, x: g.x}
	}
	classes := make([]string, 26)
	for i := range classes {
		classes[i] = string(rune('A' + i))
	}
	return makeTask("letter", fontSource, classes, items), nil
}

func buildTypeStyle(raw string) (Built, error) {
	gs, err := loadGlyphs(raw)
	if err != nil {
		return Built{}, err
	}
	var items []item
	for _, g := range gs {
		if g.style >= 0 {
			items = append(items, item{group: g.family, label: g.style, x: g.x})
		}
	}
	return makeTask("type_style", fontSource, styleNames, items), nil
}
