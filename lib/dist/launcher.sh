#!/bin/sh
# poncho @VERSION@: a single-file Poncho. This POSIX sh launcher is followed by a
# tar.gz payload (the Deno runtime, Poncho's code and its npm packages), which the
# first start unpacks into <store>/v1/runtime/<payload sha256>/ (under a lock, via a
# temp dir and a rename); later starts exec it directly. Needs sh, tail, gzip, tar.
# Written by `deno task dist`; do not edit (the payload starts at a fixed byte).
PAYLOAD=@PAYLOAD_SHA256@
OFFSET=@PAYLOAD_OFFSET@

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
exec "$rt/deno" run -A --quiet --cached-only --config "$rt/app/deno.json" "$rt/app/cli/main.ts" "$@"
# The payload follows the next newline.
