#!/usr/bin/env bash
# Assemble a private Python 3.14 on a Debian-family host that ships an older one (Debian 12: 3.11).
#
# Why: Home Assistant 2026.3+ requires Python >= 3.14.2. uv/pyenv download prebuilt interpreters
# from hosts that are not always reachable, while Debian's own package archive is. Debian unstable
# carries python3.14 as binary packages built against a newer glibc, so they are unpacked (not
# installed) into a private prefix together with unstable's glibc and libraries, and the
# interpreter is pointed at them with patchelf (DT_RPATH, so dlopen'ed extension modules such as
# _ssl also resolve against the private libraries). Nothing outside the prefix is touched.
#
# Usage: debian-python314.sh PREFIX            assemble the interpreter
#        debian-python314.sh --headers PREFIX  add the C headers (libpython3.14-dev) to an
#                                              existing PREFIX, for building extension modules
#                                              from source (scripts/develop needs them)
set -euo pipefail

HEADERS=0
if [ "${1:-}" = "--headers" ]; then HEADERS=1; shift; fi
PREFIX="$1"
log() { printf '[python314] %s\n' "$*" >&2; }

case "$(dpkg --print-architecture)" in
  amd64) TRIPLE=x86_64-linux-gnu;  LOADER=ld-linux-x86-64.so.2 ;;
  arm64) TRIPLE=aarch64-linux-gnu; LOADER=ld-linux-aarch64.so.1 ;;
  *) log "unsupported architecture $(dpkg --print-architecture)"; exit 1 ;;
esac

# The mirror the host already uses (deb822 first, then one-line format).
MIRROR="$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
  | tr ' ' '\n' | grep -v -- '-security' | grep -v '^$' | head -1 || true)"
if [ -z "$MIRROR" ]; then
  MIRROR="$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1 || true)"
fi
[ -n "$MIRROR" ] || { log "cannot find the host's Debian mirror in /etc/apt"; exit 1; }
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/debs"
echo "deb [signed-by=$KEYRING] $MIRROR sid main" >"$WORK/sources.list"
APT=(apt-get -q -o "Dir::State::Lists=$WORK/lists" -o "Dir::Etc::SourceList=$WORK/sources.list"
     -o "Dir::Etc::SourceParts=/dev/null" -o "Dir::Cache=$WORK/cache" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")

log "reading the package list of Debian unstable from $MIRROR"
"${APT[@]}" update >/dev/null

if [ "$HEADERS" = 1 ]; then
  # Only the headers, from the same source package as the interpreter already unpacked.
  [ -x "$PREFIX/usr/bin/python3.14" ] || { log "no interpreter in $PREFIX"; exit 1; }
  HAVE="$("$PREFIX/usr/bin/python3.14" -c 'import platform; print(platform.python_version())')"
  (cd "$WORK/debs" && "${APT[@]}" download libpython3.14-dev python3.14-dev >/dev/null)
  GOT="$(dpkg-deb -f "$WORK"/debs/libpython3.14-dev_*.deb Version)"
  case "$GOT" in
    "$HAVE"-*) ;;
    *) log "note: headers $GOT for interpreter $HAVE (same 3.14 ABI)" ;;
  esac
  mkdir -p "$WORK/dev"
  for deb in "$WORK"/debs/*.deb; do
    dpkg -x "$deb" "$WORK/dev"
  done
  # Debian's include/python3.14/pyconfig.h only includes <TRIPLE/python3.14/pyconfig.h> from
  # /usr/include, which is not searched inside a private prefix: put the real one in its place.
  cp "$WORK/dev/usr/include/$TRIPLE/python3.14/pyconfig.h" "$WORK/dev/usr/include/python3.14/pyconfig.h"
  mkdir -p "$PREFIX/usr/include" "$PREFIX/usr/lib/python3.14"
  rm -rf "$PREFIX/usr/include/python3.14.tmp"
  cp -a "$WORK/dev/usr/include/python3.14" "$PREFIX/usr/include/python3.14.tmp"
  cp -a "$WORK/dev/usr/lib/python3.14/." "$PREFIX/usr/lib/python3.14/"
  rm -rf "$PREFIX/usr/include/python3.14"
  mv "$PREFIX/usr/include/python3.14.tmp" "$PREFIX/usr/include/python3.14"
  log "headers ready: $PREFIX/usr/include/python3.14 ($GOT)"
  exit 0
fi

PKGS=(libc6 libpython3.14-minimal libpython3.14-stdlib python3.14-minimal python3.14 libpython3.14
      libssl3t64 libffi8 libsqlite3-0 libexpat1 zlib1g libbz2-1.0 liblzma5 libzstd1 libuuid1
      libncursesw6 libtinfo6 libreadline8t64 libdb5.3t64 libmpdec4 libgcc-s1 libstdc++6)
log "downloading ${#PKGS[@]} packages"
(cd "$WORK/debs" && "${APT[@]}" download "${PKGS[@]}" >/dev/null)

rm -rf "$PREFIX.tmp"
mkdir -p "$PREFIX.tmp"
for deb in "$WORK"/debs/*.deb; do
  dpkg -x "$deb" "$PREFIX.tmp"
done
P="$PREFIX.tmp"
LIBDIR="$P/usr/lib/$TRIPLE"
# libc6 puts the loader under /usr/lib/<triple> (merged-usr); older layouts use /lib/<triple>.
if [ ! -e "$LIBDIR/$LOADER" ] && [ -e "$P/lib/$TRIPLE/$LOADER" ]; then
  cp -a "$P/lib/$TRIPLE/." "$LIBDIR/"
fi

# patchelf from the host's own release (unstable's 0.18 writes a binary that crashes here).
if command -v patchelf >/dev/null 2>&1; then
  PATCHELF=(patchelf)
elif [ "$(id -u)" = 0 ]; then
  log "installing patchelf from the host's archive"
  apt-get -q update >/dev/null && apt-get -q install -y patchelf >/dev/null
  PATCHELF=(patchelf)
else
  (cd "$WORK" && apt-get -q download patchelf >/dev/null)
  dpkg -x "$WORK"/patchelf_*.deb "$WORK/patchelf"
  PATCHELF=("$WORK/patchelf/usr/bin/patchelf")
fi
FINAL_LIBDIR="$PREFIX/usr/lib/$TRIPLE"
"${PATCHELF[@]}" --set-interpreter "$FINAL_LIBDIR/$LOADER" --force-rpath --set-rpath "$FINAL_LIBDIR" \
  "$P/usr/bin/python3.14"
rm -f "$P"/usr/lib/python3.14/EXTERNALLY-MANAGED

rm -rf "$PREFIX"
mv "$P" "$PREFIX"
"$PREFIX/usr/bin/python3.14" -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, decimal, uuid, sys; print(sys.version.split()[0], ssl.OPENSSL_VERSION)' >&2
log "ready: $PREFIX/usr/bin/python3.14"
