#!/bin/bash
# pyroots.sh - throwaway Debian root filesystems holding the CPython versions
# this machine lacks (3.13.5, 3.14, 3.15, a free-threaded 3.13t) and PyPy, for
# the version test matrix. Nothing is installed into the host but debootstrap.
#
#   scripts/pyroots.sh               # trixie + sid roots (about 80 s), cached
#   FT=1 scripts/pyroots.sh          # also the free-threaded 3.13t (about 5 min more)
#   FORCE=1 scripts/pyroots.sh       # rebuild what already exists
#   BASE=/dir scripts/pyroots.sh     # default: <repo>/.pyroots (git-ignored)
#
# Result:  $BASE/trixie : python3.13 (3.13.5), pypy3, with -dev headers
#                         /opt/python3.13t/bin/python3.13t (free-threaded, FT=1)
#          $BASE/sid    : python3.13, python3.14, python3.15, pypy3, with -dev headers
#          $BASE/bin/<suite>-<interpreter> : one wrapper per interpreter, runnable
#                         from the host (see write_wrappers); the tests use these
# Run a command in a root with scripts/inroot (the PID seen from the host is
# the command's own):
#          scripts/inroot .pyroots/sid -b "$PWD" python3.14 tests/scripts/split_70_30.py
#          .pyroots/bin/sid-python3.14 tests/scripts/split_70_30.py     # the same
#
# A root counts as built once it holds .pyroots-done (a failed build leaves none
# and is redone). Needs root (debootstrap, chroot, mount) and the Debian mirror
# the host's apt sources name. Timings go to stdout and $BASE/logs/.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BASE=${BASE:-$REPO/.pyroots}
FT=${FT:-0}
FORCE=${FORCE:-0}
SUITES=${SUITES:-"trixie sid"}
declare -A PKGS=(
  [trixie]="python3.13 python3.13-dev pypy3 pypy3-dev"
  [sid]="python3.13 python3.13-dev python3.14 python3.14-dev python3.15 python3.15-dev pypy3 pypy3-dev"
)
log() { echo "[$(date +%T)] pyroots: $*"; }

# One executable per interpreter in $BASE/bin, so that anything on the host
# (the tests, snakescope record, a shell) can run it like a host interpreter:
# it runs in its root through scripts/inroot with the repository and the
# temporary directory visible at the same paths, and its PID is the wrapper's
# own (everything on the way execs). Rewritten on every run (cheap, and keeps
# the absolute paths right if the checkout moved).
write_wrappers() {
  local S py name p tmp=${TMPDIR:-/tmp}
  rm -rf "$BASE/bin"; mkdir -p "$BASE/bin"
  for S in $SUITES; do
    for py in python3.13 python3.14 python3.15 pypy3 /opt/python3.13t/bin/python3.13t; do
      case $py in /*) p=$py;; *) p=/usr/bin/$py;; esac
      [ -e "$BASE/$S/.pyroots-done" ] && [ -x "$BASE/$S$p" ] || continue
      name=$S-$(basename "$py")
      cat > "$BASE/bin/$name" <<WRAPPER
#!/bin/sh
# $p of the $S root (written by scripts/pyroots.sh): runs it with scripts/inroot,
# with $REPO and $tmp bind-mounted at the same paths. Needs root.
exec "$REPO/scripts/inroot" "$BASE/$S" -b "$REPO" -b "$tmp" -- "$p" "\$@"
WRAPPER
      chmod +x "$BASE/bin/$name"
    done
  done
}

# Is everything asked for already there? Then say so without needing root.
all_done() {
  local S
  for S in $SUITES; do [ -e "$BASE/$S/.pyroots-done" ] || return 1; done
  if [ "$FT" = 1 ] && [[ " $SUITES " == *" trixie "* ]]; then
    [ -x "$BASE/trixie/opt/python3.13t/bin/python3.13t" ] || return 1
  fi
}
if [ "$FORCE" != 1 ] && all_done; then
  write_wrappers
  log "roots present in $BASE ($SUITES$([ "$FT" = 1 ] && echo ", 3.13t")), nothing to build"
  exit 0
fi

[ "$(id -u)" = 0 ] || { echo "pyroots: must run as root (debootstrap, chroot, mount)" >&2; exit 1; }

# the Debian archive this host already uses (first URIs: / deb line of its apt sources)
host_mirror() {
  { awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null
    awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null; } | grep -v security | head -n 1 || true
}
MIRROR=${MIRROR:-$(host_mirror)}
[ -n "$MIRROR" ] || { echo "pyroots: no Debian mirror found in the apt sources; set MIRROR" >&2; exit 1; }
command -v debootstrap >/dev/null || {
  log "installing debootstrap into the host (the only host package this needs)"
  apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
}
mkdir -p "$BASE/logs"

# run a shell snippet inside root $1 with /proc mounted, in a private mount
# namespace so the mount can never be left behind
in_root() {
  local R=$1; shift
  unshare -m --propagation private sh -ec 'mount -t proc proc "$0/proc"; exec chroot "$0" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 HOME=/root sh -ec "$1"' "$R" "$*"
}

make_root() {
  local S=$1 R=$BASE/$1 t0=$SECONDS
  if [ -e "$R/.pyroots-done" ] && [ "$FORCE" != 1 ]; then log "$S: exists, skipping"; return; fi
  if grep -q " $R/" /proc/mounts; then echo "pyroots: refusing: something is mounted under $R" >&2; return 1; fi
  rm -rf "$R"
  log "$S: debootstrap (log: $BASE/logs/debootstrap-$S.log)"
  debootstrap --variant=minbase "$S" "$R" "$MIRROR" > "$BASE/logs/debootstrap-$S.log" 2>&1 \
    || { echo "pyroots: debootstrap $S failed; see $BASE/logs/debootstrap-$S.log; its last lines:" >&2
         tail -n 5 "$BASE/logs/debootstrap-$S.log" | sed 's/^/pyroots:   /' >&2
         rm -rf "$R"   # a half-made root only takes disk the rest of the build needs
         return 1; }
  local t1=$SECONDS
  # the archive snapshot may be frozen: sid's Release file is then past Valid-Until
  cat > "$R/etc/apt/apt.conf.d/99pyroots" <<'CONF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
Dpkg::Use-Pty "false";
CONF
  log "$S: apt-get install ${PKGS[$S]}"
  in_root "$R" "apt-get update -qq && apt-get install -y -qq ${PKGS[$S]} && apt-get clean" \
    > "$BASE/logs/install-$S.log" 2>&1 \
    || { echo "pyroots: installing into $S failed; see $BASE/logs/install-$S.log" >&2; return 1; }
  touch "$R/.pyroots-done"
  log "$S: done: debootstrap $((t1-t0))s, install $((SECONDS-t1))s, $(du -sh "$R" | cut -f1)"
}

# free-threaded CPython from the Debian orig tarball of the root's own python3.X
# (the mirror serves trixie's 3.13 source; no suite has a free-threaded 3.14/3.15)
build_ft() {
  local S=$1 M=$2 R=$BASE/$1 t0=$SECONDS
  if [ -x "$R/opt/python${M}t/bin/python${M}t" ] && [ "$FORCE" != 1 ]; then log "$S: python${M}t exists"; return; fi
  local V; V=$(chroot "$R" dpkg-query -W -f '${Version}' "python$M"); V=${V%%-*}
  log "$S: building free-threaded $V -> /opt/python${M}t (log: $BASE/logs/build-${M}t.log)"
  rm -rf "$R/tmp/build" "$R/opt/python${M}t"
  mkdir -p "$R/tmp/build"
  curl -fsS -o "$R/tmp/build/src.tar.xz" "$MIRROR/pool/main/p/python$M/python${M}_$V.orig.tar.xz"
  in_root "$R" "
    apt-get install -y -qq build-essential pkg-config xz-utils libssl-dev zlib1g-dev libffi-dev \
      libbz2-dev liblzma-dev libsqlite3-dev libzstd-dev libexpat1-dev libmpdec-dev >/dev/null
    apt-get clean
    cd /tmp/build && tar xf src.tar.xz && cd Python-$V
    ./configure -q --prefix=/opt/python${M}t --disable-gil --enable-shared LDFLAGS=-Wl,-rpath=/opt/python${M}t/lib
    make -s -j$(nproc) >/dev/null 2>make.err || { tail -30 make.err; exit 1; }
    make -s altinstall >/dev/null 2>&1
    cd / && rm -rf /tmp/build" > "$BASE/logs/build-${M}t.log" 2>&1 \
    || { echo "pyroots: the free-threaded build failed; see $BASE/logs/build-${M}t.log" >&2; return 1; }
  log "$S: python${M}t built in $((SECONDS-t0))s"
}

T0=$SECONDS
pids=()
for S in $SUITES; do make_root "$S" & pids+=($!); done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
[ $status = 0 ] || exit 1
if [ "$FT" = 1 ] && [[ " $SUITES " == *" trixie "* ]]; then build_ft trixie 3.13; fi

write_wrappers
log "total $((SECONDS-T0))s"
for S in $SUITES; do
  for py in python3.13 python3.14 python3.15 pypy3 /opt/python3.13t/bin/python3.13t; do
    case $py in /*) p=$py;; *) p=/usr/bin/$py;; esac
    [ -x "$BASE/$S$p" ] || continue
    printf '  %-7s %-34s ' "$S" "$py"
    chroot "$BASE/$S" "$p" -c 'import sys,sysconfig,platform; print(platform.python_implementation(), sys.version.split()[0], "Py_GIL_DISABLED=%s" % sysconfig.get_config_var("Py_GIL_DISABLED"))' 2>/dev/null || echo "(does not run)"
  done
done
