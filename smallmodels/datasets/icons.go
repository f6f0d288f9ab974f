package datasets

import (
	"fmt"
	"os"
	"regexp"
	"sort"
)

const phosphorSource = "npm:@phosphor-icons/core@2.1.1"

// Phosphor figma categories used for icon_category (the 8 largest).
var iconCategories = []string{"COMMERCE", "SYSTEM", "DESIGN", "OFFICE", "ARROWS", "MEDIA", "MAP", "FINANCE"}
var iconCategoryNames = []string{"commerce", "system & devices", "design", "office & editing", "arrows", "media", "maps & travel", "finance"}
var iconWeights = []string{"thin", "light", "regular", "bold", "fill", "duotone"}

var phosphorEntryRe = regexp.MustCompile(`name: "([a-z0-9-]+)",\s*pascal_name: "[A-Za-z0-9]+",\s*categories: \[[^\]]*\],\s*figma_category: a\.([A-Z]+)`)

type icon struct {
	name     string
	category string // figma category enum key
	imgs     [6][]byte
}

var iconCache struct {
	raw   string
	icons []icon
}

func loadIcons(raw string) ([]icon, error) {
	if iconCache.raw == raw && iconCache.icons != nil {
		return iconCache.icons, nil
	}
	base := raw + "/npm/@phosphor-icons__core/package"
	ip, err := need(base, "dist", "index.mjs")
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(ip)
	if err != nil {
		return nil, err
	}
	var icons []icon
	seen := map[string]bool{}
	for _, m := range phosphorEntryRe.FindAllStringSubmatch(string(src), -1) {
		if seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		icons = append(icons, icon{name: m[1], category: m[2]})
	}
	if len(icons) < 1000 {
		return nil, fmt.Errorf("%s: found only %d icon entries", ip, len(icons))
	}
	sort.Slice(icons, func(i, j int) bool { return icons[i].name < icons[j].name })
	out := icons[:0]
	for _, ic := range icons {
		ok := true
		for w, wt := range iconWeights {
			fn := ic.name + "-" + wt + ".svg"
			if wt == "regular" {
				fn = ic.name + ".svg"
			}
			p := base + "/assets/" + wt + "/" + fn
			b, err := os.ReadFile(p)
			if err != nil {
				if os.IsNotExist(err) {
					ok = false // listed but not shipped in this weight
					break
				}
				return nil, err
			}
			img, err := rasterSVG(string(b), 256)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			ic.imgs[w] = img
		}
		if ok {
			out = append(out, ic)
		}
	}
	if _, err := need(base, "assets", "regular", "acorn.svg"); err != nil {
		return nil, err
	}
	iconCache.raw, iconCache.icons = raw, out
	return out, nil
}

func buildIconCategory(raw string) (Built, error) {
	icons, err := loadIcons(raw)
	if err != nil {
		return Built{}, err
	}
	cat := map[string]int{}
	for i, c := range iconCategories {
		cat[c] = i
	}
	var items []item
	for _, ic := range icons {
		c, ok := cat[ic.category]
		if !ok {
			continue
		}
		for w := range iconWeights {
			items = append(items, item{group: ic.name, label: c, x: ic.imgs[w]})
		}
	}
	return makeTask("icon_category", phosphorSource, iconCategoryNames, items), nil
}

func buildIconWeight(raw string) (Built, error) {
	icons, err := loadIcons(raw)
	if err != nil {
		return Built{}, err
	}
	var items []item
	for _, ic := range icons {
		for w := range iconWeights {
			items = append(items, item{group: ic.name, label: w, x: ic.imgs[w]})
		}
	}
	return makeTask("icon_weight", phosphorSource, iconWeights, items), nil
}
