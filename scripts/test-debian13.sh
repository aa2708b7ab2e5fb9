#!/usr/bin/env bash
# Builds moedil and runs its whole CTest suite inside a Debian 13 "trixie" chroot (LibTorch 2.6),
# next to the host's Debian 12 build (LibTorch 1.13). .ci/run runs it after scripts/test.sh.
#
#   1. creates the chroot once with `debootstrap --variant=minbase trixie` from the Debian mirror
#      this machine's apt uses, in a fixed cache location (reused afterwards: a second run only
#      copies the tree, rebuilds what changed and tests);
#   2. runs scripts/setup.sh inside it: the same package list (scripts/packages.txt) and BLAS
#      check as on the host, then the build into build-debian13 with a ccache kept in the chroot;
#   3. runs `ctest` there and exits non-zero when any test fails.
#
# Needs root (re-runs itself with sudo otherwise). Environment:
#   MOEDIL_DEB13_ROOT    the chroot (default /var/cache/moedil/debian13)
#   MOEDIL_DEB13_MIRROR  the Debian mirror (default: the host's, from /etc/apt/sources.list{,.d})
#   extra arguments go to ctest (e.g. -R vit_test).
# `scripts/test-debian13.sh --exec COMMAND` runs COMMAND (bash) in the chroot's copy of the tree
# instead of building and testing, e.g. --exec 'build-debian13/moedil run configs/quickstart.jsonc'
# (the copy is replaced on every run except build-debian13: write results elsewhere, e.g. /tmp).
# The body is one function, read whole before it runs, so editing or checking out this file while
# a run is going cannot change what that run executes.
main() {
  set -euo pipefail
  cd "$(dirname "$0")/.."
  src=$(pwd)
  if [ "$(id -u)" -ne 0 ]; then
    exec sudo --preserve-env=MOEDIL_DEB13_ROOT,MOEDIL_DEB13_MIRROR "$0" "$@"
  fi

  exec_cmd=""
  if [ "${1:-}" = "--exec" ]; then
    [ $# -eq 2 ] || { echo "usage: scripts/test-debian13.sh --exec 'COMMAND'" >&2; exit 2; }
    exec_cmd=$2
    shift 2
  fi
  root=${MOEDIL_DEB13_ROOT:-/var/cache/moedil/debian13}
  inner=/src/moedil  # where the tree lives inside the chroot
  t_start=$(date +%s)
  now() { date +%s; }
  say() { echo "[debian13] $*"; }

  # The mirror: the URI of the host's main Debian suite (deb822 .sources or one-line .list entries).
  find_mirror() {
    local codename files f
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    files=$(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    for f in $files; do
      case "$f" in
        *.sources)
          awk -v cn="$codename" '
            /^[[:space:]]*$/ { if (uri != "" && suites ~ ("(^| )" cn "( |$)")) { print uri; exit } uri = ""; suites = "" }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { $1 = ""; suites = $0 " " }
            END { if (uri != "" && suites ~ ("(^| )" cn "( |$)")) print uri }' "$f"
          ;;
        *) awk -v cn="$codename" '$1 == "deb" && $0 !~ /\[/ && $3 == cn { print $2; exit }' "$f" ;;
      esac
    done | head -1
  }
  mirror=${MOEDIL_DEB13_MIRROR:-$(find_mirror)}
  mirror=${mirror:-http://deb.debian.org/debian}

  # One run at a time per chroot (the mounts and the build dir are shared).
  mkdir -p "$(dirname "$root")"
  exec 9>"$root.lock"
  flock -n 9 || { say "waiting for another run on $root"; flock 9; }

  mounts=()
  cleanup() {
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
      umount -R "${mounts[$i]}" 2>/dev/null || umount -lR "${mounts[$i]}" 2>/dev/null || true
    done
  }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # 1. The chroot, created once. The marker is written last, so an interrupted debootstrap is redone.
  t0=$(now)
  if [ ! -f "$root/.moedil-debootstrap-done" ]; then
    if ! command -v debootstrap >/dev/null; then
      say "installing debootstrap on the host"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
    fi
    # A crashed earlier run may have left mounts behind: never delete through them.
    { grep -o " $root/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -lR "$m" || true; done
    rm -rf --one-file-system "$root"
    say "debootstrap --variant=minbase trixie $root $mirror"
    debootstrap --variant=minbase trixie "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
      { tail -20 "$root.debootstrap.log"; say "debootstrap failed (log: $root.debootstrap.log)"; exit 1; }
    touch "$root/.moedil-debootstrap-done"
    say "chroot created in $(($(now) - t0)) s"
  else
    say "reusing the chroot in $root"
  fi
  t_create=$(($(now) - t0))

  mount_into() {  # mount_into TARGET-INSIDE mount-args...
    local target="$root$1"
    shift
    mkdir -p "$target"
    mountpoint -q "$target" && return 0
    mount "$@" "$target"
    mounts+=("$target")
  }
  mount_into /proc -t proc proc
  mount_into /sys --rbind /sys
  mount --make-rslave "$root/sys"
  mount_into /dev --rbind /dev
  mount --make-rslave "$root/dev"
  # Name resolution as on the host (debootstrap leaves no /etc/hosts: then even localhost and the
  # host's own name do not resolve).
  for f in resolv.conf hosts hostname; do cp -L "/etc/$f" "$root/etc/$f" 2>/dev/null || true; done

  # 2. The tree: a copy of what git tracks plus untracked files it does not ignore (the working
  # tree as it is, not the last commit). build-debian13 survives between runs. Extracted with
  # the time of extraction (tar -m), so every file is newer than the last build's objects and
  # ninja recompiles everything; the chroot's ccache turns unchanged sources into hits. With
  # the files' own times a header edited before that build would look older than its objects
  # and be skipped (seen: objects of another branch's class layouts, segfaults).
  mkdir -p "$root$inner"
  find "$root$inner" -mindepth 1 -maxdepth 1 ! -name build-debian13 -exec rm -rf {} +
  if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$src" ls-files -z --cached --others --exclude-standard |
      (cd "$src" && xargs -0 -r ls -d 2>/dev/null | tar -cf - --no-recursion -T -) | tar -xmf - -C "$root$inner"
  else
    tar -C "$src" --exclude='./build*' --exclude='./results/*' --exclude='./logs/*' -cf - . |
      tar -xmf - -C "$root$inner"
  fi

  in_chroot() {  # a clean environment: nothing of the host's leaks in but what is set here
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      CCACHE_DIR=/var/cache/moedil-ccache CCACHE_BASEDIR=$inner CCACHE_MAXSIZE=5G \
      MOEDIL_BUILD_DIR=build-debian13 DEBIAN_FRONTEND=noninteractive \
      "$@"
  }

  t0=$(now)
  in_chroot bash -c "cd $inner && scripts/setup.sh --no-build --tests"
  t_packages=$(($(now) - t0))
  if [ -n "$exec_cmd" ]; then
    set +e
    in_chroot bash -c "cd $inner && $exec_cmd"
    exit $?
  fi

  t0=$(now)
  in_chroot ccache -z >/dev/null 2>&1 || true
  # (ninja's progress lines left out: warnings and errors still show)
  in_chroot bash -c "set -o pipefail; cd $inner && scripts/setup.sh --tests 2>&1 | { grep -v '^\[[0-9]*/[0-9]*\] ' || true; }" |
    tee "$root.build.log"
  warnings=$(grep -c 'warning:' "$root.build.log" || true)
  say "compiler warnings in this build: $warnings (files compiled now; ccache replays its hits' warnings)"
  in_chroot ccache -s 2>/dev/null | grep -E '^ *(Hits|Misses):' | head -2 | tr -s ' ' |
    sed 's/^/[debian13] ccache this build:/' || true
  t_build=$(($(now) - t0))

  # 3. The suite. ctest's own exit status decides; its summary line gives the counts.
  t0=$(now)
  set +e
  in_chroot bash -c "cd $inner && ctest --test-dir build-debian13 --output-on-failure -j \$(nproc) $*" |
    tee "$root.ctest.log"
  rc=${PIPESTATUS[0]}
  set -e
  t_test=$(($(now) - t0))

  total=$(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$root.ctest.log" | awk '{print $NF}' | tail -1)
  failed=$(grep -Eo '[0-9]+ tests failed out of' "$root.ctest.log" | awk '{print $1}' | tail -1)
  skipped=$(grep -c -- '\*\*\*Skipped' "$root.ctest.log" || true)
  if [ -n "$total" ]; then
    say "tests: $((total - failed - skipped)) passed, $skipped skipped, $failed failed (of $total)"
  fi
  say "times: chroot ${t_create} s, packages ${t_packages} s, build ${t_build} s, tests ${t_test} s," \
    "total $(($(now) - t_start)) s"
  [ "$rc" -eq 0 ] || say "FAILED: ctest exited $rc (log: $root.ctest.log)"
  exit "$rc"
}
main "$@"
exit
