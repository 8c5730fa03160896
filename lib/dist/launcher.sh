#!/bin/sh
# poncho @VERSION@: a single-file Poncho. This POSIX sh launcher is followed by a
# tar.gz payload (the Deno runtime, Poncho's code and its npm packages), which the
# first start unpacks into <store>/v1/runtime/<payload sha256>/ (under a lock, via a
# temp dir and a rename); later starts exec it directly. Needs sh, tail, gzip, tar.
# Written by `deno task dist`; do not edit (the payload starts at a fixed byte).
PAYLOAD=@PAYLOAD_SHA256@
OFFSET=@PAYLOAD_OFFSET@
INDEX=@INDEX_BUCKET@
LOCKS=@LOCKS_BUCKET@

die() { printf 'poncho: %s\n' "$1" >&2; exit 3; }
usage() { printf 'poncho: %s\n' "$1" >&2; exit 1; }

case $0 in /*) self=$0 ;; ./*) self=$PWD/${0#./} ;; *) self=$PWD/$0 ;; esac

# The store, resolved as Poncho does (store/layout.ts): --store DIR, else $PONCHO_STORE,
# else $XDG_CACHE_HOME/poncho (if absolute), else ~/.cache/poncho (HOME must be absolute);
# made absolute. Options end at --, and for run (as in cli/run.ts) at the first word that is
# not an option or its value.
store= given= val= sub=${1-} skip=1
case ${0##*/} in poncho_package_run | python_package_run) sub=run skip= ;; poncho_package_* | python_package_*) sub= skip= ;; esac
[ "$sub" = poncho_package_run ] && sub=run
for a in "$@"; do
  if [ -n "$skip" ]; then skip= && continue; fi
  if [ -n "$val" ]; then [ "$val" = --store ] && store=$a given=1; val= && continue; fi
  case $a in
  --) break ;;
  --store=*) store=${a#--store=} given=1 ;;
  --store) val=$a ;;
  -[ceuwm] | --environment | --unpack-to | --wait-for-lock | --module | --spec | --channel | \
    --python | --platform | --conda-exe) [ "$sub" = run ] && val=$a ;;
  -?*) ;;
  *) [ "$sub" = run ] && break ;;
  esac
done
if [ -n "$given" ]; then
  [ -n "$store" ] || usage "--store is empty; give a directory"
elif [ -n "${PONCHO_STORE:-}" ]; then
  store=$PONCHO_STORE
else
  case ${XDG_CACHE_HOME:-} in /*) store=$XDG_CACHE_HOME/poncho ;; esac
fi
if [ -z "$store" ]; then
  if [ -n "${HOME+set}" ]; then
    why=empty && [ -n "$HOME" ] && why="'$HOME', not an absolute path"
    case $HOME in /*) ;; *) usage "HOME is $why; the store cannot default to ~/.cache/poncho: set HOME, or PONCHO_STORE or --store to an absolute directory" ;; esac
    store=$HOME/.cache/poncho
  else
    home=$(eval "echo ~$(id -un)" 2>/dev/null) # no HOME: the password database's
    case $home in /*) store=$home/.cache/poncho ;; *) usage "HOME is not set and this user has no home directory; set PONCHO_STORE" ;; esac
  fi
fi
case $store in /*) ;; *) store=$PWD/$store ;; esac
rt=$store/v1/runtime/$PAYLOAD

# Warm fast path of `run [--store S] [-w N] -e ARCHIVE [--] command...` (and of the CCTools names
# poncho_package_run, python_package_run): when `poncho run` has already found or unpacked this archive into
# the store, it wrote a warm record (store/warm_record.ts) keyed by the sha256 of the
# archive's absolute path. If the archive's size, mtime and inode still match it, the
# shared lock on the environment's lock file is free to take (flock -s -n on fd 9, which
# the command inherits, so gc never removes it while the command runs), the ready marker
# names that id and directory and the command is found, exec bin/run_in_env: the command
# replaces this process, so its signals and exit code are its own. On any miss or doubt
# (any other option, a path that needs normalizing, no stat/flock/sha256sum), return and
# take the full path through Deno. PONCHO_NO_FAST_PATH=1 turns it off. LC_ALL=C spares
# each tool loading the locale.
fast() {
  case ${0##*/} in poncho_package_run | python_package_run) ;; *) [ "${1-}" = run ] || return 0 && shift ;; esac
  env=
  while [ $# -gt 0 ]; do
    case $1 in
    --) shift && break ;;
    -e | --environment) [ $# -ge 2 ] || return 0; env=$2 && shift 2 ;;
    --environment=*) env=${1#--environment=} && shift ;;
    --store) shift 2 ;;
    --store=*) shift ;;
    -w | --wait-for-lock) case ${2-} in '' | *[!0-9]*) return 0 ;; esac; wait=$2 && shift 2 ;;
    -*) return 0 ;;
    *) break ;;
    esac
  done
  [ $# -gt 0 ] && [ -n "$env" ] || return 0
  case $env in ./*) env=${env#./} ;; esac
  case $env in '' | */ | *//* | */./* | */../* | */. | */.. | ./* | ../* | . | ..) return 0 ;; esac
  case $env in /*) ;; *) case $PWD in /*) env=$PWD/$env ;; *) return 0 ;; esac ;; esac
  case $env in *//* | */./* | */../*) return 0 ;; esac
  if [ "$env" != "$kenv" ]; then # hashed once per start (fast runs again after the lock)
    key=$(printf %s "$env" | LC_ALL=C sha256sum 2>/dev/null) || return 0
    key=${key%%' '*} && key=${key%????????????????????????????????} && kenv=$env
  fi
  rec=$store/$INDEX/sources/$key.warm
  # Not (yet) known: the caller takes this archive's identity lock and looks again.
  srclock=$store/$LOCKS/source-$key.lock
  [ -f "$rec" ] || return 0
  { read -r st && read -r path && read -r id && read -r dir && read -r lock; } <"$rec" || return 0
  [ "$path" = "$env" ] && [ -f "$lock" ] && [ -w "$lock" ] && [ -x "$dir/bin/run_in_env" ] || return 0
  [ "$(LC_ALL=C stat -L -c '1 %s %.3Y %i' -- "$env" 2>/dev/null)" = "$st" ] || return 0
  srclock=
  [ -e /proc/$$/fd/9 ] && return 0 # fd 9 is the caller's: leave it alone
  command exec 9<>"$lock" || return 0
  LC_ALL=C flock -s -n 9 2>/dev/null || { exec 9>&-; return 0; }
  l1= l2= l3=
  { read -r _ && IFS= read -r l1 && IFS= read -r l2 && IFS= read -r l3; } <"$dir/.poncho/ready.json" 2>/dev/null
  found=
  if [ "$l1" = ' "format": 1,' ] && [ "$l2" = " \"id\": \"$id\"," ] &&
    [ "$l3" = " \"prefix\": \"$dir\"," ]; then
    case $1 in
    */*) [ -f "$1" ] && [ -x "$1" ] && found=1 ;;
    *)
      had=${PATH+set} old=${PATH-} && PATH=$dir/bin${PATH:+:$PATH}
      command -v -- "$1" >/dev/null 2>&1 && found=1
      PATH=$old && [ -n "$had" ] || unset PATH
      ;;
    esac
    if [ -n "$found" ]; then
      LC_ALL=C touch -c -- "$store/$INDEX/$id.json" 2>/dev/null # last used, for gc
      [ -n "${PONCHO_LAUNCHER_DEBUG:-}" ] && printf 'poncho: warm fast path: %s\n' "$dir" >&2
      exec 8>&- # the identity lock, if taken: not the command's
      exec "$dir/bin/run_in_env" "$@"
    fi
  fi
  exec 9>&-
}
srclock= wait=300 kenv=
if [ -z "${PONCHO_NO_FAST_PATH:-}" ]; then
  fast "$@"
  # Not known: take the archive's identity lock (blocked in flock, -w honoured), so that of a
  # burst of cold starts one resolves and unpacks it (Deno inherits the lock on fd 8, and
  # releases it once the environment is ready and its record written) while the others wait
  # here and then take the fast path.
  if [ -n "$srclock" ] && [ -d "${srclock%/*}" ] && [ -w "${srclock%/*}" ] &&
    [ ! -e /proc/$$/fd/8 ] && command exec 8<>"$srclock"; then
    LC_ALL=C flock -x -n 8 2>/dev/null
    rc=$?
    if [ "$rc" = 1 ]; then
      # Busy: wait with the burst's other starts (shared, so all wake at once), look again;
      # still unknown (the holder failed): take it exclusively (flock drops the shared first).
      LC_ALL=C flock -s -w "$wait" 8 2>/dev/null
      rc=$?
      [ "$rc" = 0 ] && fast "$@" && LC_ALL=C flock -x -w "$wait" 8 2>/dev/null
      rc=$?
    fi
    case $rc in
    0) srclock= && fast "$@" && export PONCHO_SOURCE_LOCK_FD=8 ;;
    1) die "timed out after $wait s waiting for the poncho resolving $env (lock $srclock); raise -w/--wait-for-lock or stop that process" ;;
    *) exec 8>&- ;;
    esac
  fi
fi

unpack() {
  v1=$store/v1
  mkdir -p "$v1/runtime" "$v1/tmp" "$v1/locks" 2>/dev/null ||
    die "cannot create $v1/runtime (give a writable --store or PONCHO_STORE)"
  # The lock is a directory (mkdir is atomic everywhere) holding "host pid" of its owner.
  # An owner that died on this host, or a lock older than 10 minutes, is broken.
  lock=$v1/locks/runtime-$PAYLOAD.lockdir host=$(uname -n) waited=0
  until mkdir "$lock" 2>/dev/null; do
    owner=$(cat "$lock/owner" 2>/dev/null)
    case $owner in "$host "*) kill -0 "${owner#"$host "}" 2>/dev/null || rm -rf "$lock" ;; esac
    [ -n "$(find "$lock" -prune -mmin +10 2>/dev/null)" ] && rm -rf "$lock"
    waited=$((waited + 1))
    [ "$waited" -le 3000 ] || die "timed out waiting for $lock (remove it if no poncho is starting)"
    sleep 0.1 2>/dev/null || sleep 1
  done
  echo "$host $$" >"$lock/owner"
  tmp=$v1/tmp/runtime-$PAYLOAD.$$
  trap 'rm -rf "$tmp" "$tmp.err" "$lock"; exit 3' HUP INT TERM
  if [ ! -d "$rt" ]; then
    printf 'poncho: first start, unpacking the runtime into %s\n' "$rt" >&2
    rm -rf "$v1/tmp/runtime-$PAYLOAD."* # what a killed unpack left (we hold the lock)
    # Should a broken lock's other holder have made $rt meanwhile, mv nests tmp in it: undone.
    mkdir "$tmp" && { tail -c +"$OFFSET" "$self" | gzip -dc | (cd "$tmp" && tar -xf -); } 2>"$tmp.err" &&
      [ -f "$tmp/PAYLOAD_COMPLETE" ] && mv "$tmp" "$rt" && rm -rf "$rt/${tmp##*/}" || {
      why=$(grep . "$tmp.err" 2>/dev/null | head -n 1)
      rm -rf "$tmp" "$tmp.err" "$lock"
      die "could not unpack $self into $rt: ${why:-payload incomplete} (truncated file or full disk?)"
    }
    rm -f "$tmp.err"
  fi
  rm -rf "$lock"
  trap - HUP INT TERM
}
[ -d "$rt" ] || unpack

# Invoked (or symlinked) under a CCTools name: behave as that command.
case ${0##*/} in poncho_package_analyze | poncho_package_create | poncho_package_run | python_package_analyze | python_package_create | python_package_run) set -- "${0##*/}" "$@" ;; esac
[ -n "${DENO_DIR+set}" ] && export PONCHO_USER_DENO_DIR="$DENO_DIR"
export PONCHO_LAUNCHER="$self" PONCHO_PAYLOAD="$PAYLOAD" DENO_DIR="$rt/deno-dir" DENO_NO_UPDATE_CHECK=1
exec "$rt/deno" run -A --quiet --cached-only --config "$rt/app/deno.json" "$rt/app/cli/main.js" "$@"
# The payload follows the next newline.
