#!/bin/sh
# Burst of cold starts (issue 16): N concurrent `PONCHO run -e ARCHIVE -- /bin/true` on a store
# whose environments and index were removed first (the runtime stays unpacked).
# Usage: PONCHO_STORE=/dev/shm/s bench/burst.sh PONCHO N ARCHIVE
# (e.g. /usr/bin/time -f %e bench/burst.sh dist/poncho 16 /dev/shm/big.tar.zst, alternating N=1).
p=$1 n=$2 a=$3
: "${PONCHO_STORE:?set PONCHO_STORE to the store to use}"
rm -rf "$PONCHO_STORE/v1/envs" "$PONCHO_STORE/v1/index" "$PONCHO_STORE"/v1/locks/env-*
i=0
while [ "$i" -lt "$n" ]; do
  "$p" run -e "$a" -- /bin/true &
  i=$((i + 1))
done
wait
