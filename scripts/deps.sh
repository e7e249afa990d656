#!/usr/bin/env bash
# deps.sh: install what the tests, `make run` and the benchmarks need on Debian.
#
#   scripts/deps.sh [--no-chdb] [--no-browser]
#
# Debian packages: clickhouse-server clickhouse-client dnsutils knot-dnsutils dnsperf curl dnsdbq
# zookeeper (for the cluster tests and scripts/cluster.sh; it brings Java), and chromium for the
# browser tests of the page (test/browser); skip it with --no-browser or PASSIVEDNS_NO_BROWSER=1
# (`make run` does).
# `apt-get update` runs once, and only when one of them is missing. Installing never starts a
# system service (a temporary policy-rc.d forbids it); the tests start their own servers.
#
# libchdb.so (ClickHouse 26.x as a library, for the compatibility tests in internal/chdbtest)
# goes to /usr/local/lib/libchdb.so, taken from the npm package @chdb/lib-linux-x64-gnu
# (`npm pack` into $PASSIVEDNS_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/passivedns).
# Skip it with --no-chdb or PASSIVEDNS_NO_CHDB=1 (`make run` only needs the server).
# CHDB_LIB_VERSION picks another version of the npm package.
#
# Safe to run again: when everything is present it only checks, in well under a second.
set -euo pipefail

readonly APT_PACKAGES=(clickhouse-server clickhouse-client dnsutils knot-dnsutils dnsperf curl dnsdbq zookeeper)
readonly BROWSER_PACKAGES=(chromium)
readonly CHDB_PACKAGE=@chdb/lib-linux-x64-gnu
readonly CHDB_VERSION=${CHDB_LIB_VERSION:-26.5.3}
readonly CHDB_LIB=/usr/local/lib/libchdb.so
readonly CACHE_DIR=${PASSIVEDNS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/passivedns}

with_chdb=1
[[ ${PASSIVEDNS_NO_CHDB:-} == 1 ]] && with_chdb=0
with_browser=1
[[ ${PASSIVEDNS_NO_BROWSER:-} == 1 ]] && with_browser=0
for arg in "$@"; do
	case $arg in
	--no-chdb) with_chdb=0 ;;
	--no-browser) with_browser=0 ;;
	-h | --help)
		sed -n '2,19s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "deps.sh: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

log() { echo "deps.sh: $*" >&2; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || {
		log "not root and no sudo: cannot install"
		exit 1
	}
	SUDO=(sudo)
fi

installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

apt_updated=0
apt_install() {
	if ((apt_updated == 0)); then
		log "apt-get update"
		"${SUDO[@]}" apt-get update -qq
		apt_updated=1
	fi
	log "apt-get install $*"
	# Forbid maintainer scripts to start services while installing (invoke-rc.d and
	# deb-systemd-invoke both obey policy-rc.d); remove the file only if we made it.
	local policy=/usr/sbin/policy-rc.d made_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
		"${SUDO[@]}" chmod 755 "$policy"
		made_policy=1
	fi
	local rc=0
	# Lock::Timeout: wait for another apt/dpkg run (a second checkout installing at the same
	# time) instead of failing at once.
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" || rc=$?
	((made_policy == 0)) || "${SUDO[@]}" rm -f "$policy"
	return "$rc"
}

packages=("${APT_PACKAGES[@]}")
((with_browser == 0)) || packages+=("${BROWSER_PACKAGES[@]}")
missing=()
for pkg in "${packages[@]}"; do
	installed "$pkg" || missing+=("$pkg")
done
if ((with_chdb)) && [[ ! -e $CHDB_LIB ]] && ! command -v npm >/dev/null; then
	missing+=(npm)
fi
if ((${#missing[@]})); then
	apt_install "${missing[@]}"
fi

if ((with_chdb)) && [[ ! -e $CHDB_LIB ]]; then
	mkdir -p "$CACHE_DIR"
	tgz=$CACHE_DIR/chdb-lib-linux-x64-gnu-$CHDB_VERSION.tgz
	if [[ ! -s $tgz ]]; then
		log "npm pack $CHDB_PACKAGE@$CHDB_VERSION (about 170 MB) into $CACHE_DIR"
		(cd "$CACHE_DIR" && npm pack --silent "$CHDB_PACKAGE@$CHDB_VERSION" >/dev/null)
		[[ -s $tgz ]] || {
			log "npm pack did not produce $tgz"
			exit 1
		}
	fi
	log "extracting package/libchdb.so to $CHDB_LIB"
	"${SUDO[@]}" mkdir -p "$(dirname "$CHDB_LIB")"
	# Write next to the target, then rename: a reader never sees half a library.
	tar -xzOf "$tgz" package/libchdb.so | "${SUDO[@]}" tee "$CHDB_LIB.part" >/dev/null
	"${SUDO[@]}" chmod 0755 "$CHDB_LIB.part"
	"${SUDO[@]}" mv -f "$CHDB_LIB.part" "$CHDB_LIB"
	# The tarball is only needed again if the library is removed; keep one version.
	find "$CACHE_DIR" -maxdepth 1 -name 'chdb-lib-linux-x64-gnu-*.tgz' ! -name "${tgz##*/}" -delete
fi

log "ok: ${packages[*]}$( ((with_chdb)) && echo ", $CHDB_LIB")"
