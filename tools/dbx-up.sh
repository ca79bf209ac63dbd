#!/usr/bin/env bash
# Quick start: builds dbxfs, starts dbxd with its embedded store (LMDB +
# a local chunk directory) on 127.0.0.1, creates an account, and mounts it
# with dbxfs at STATE_DIR/mnt (or $DBX_MOUNT).
#   tools/dbx-up.sh [STATE_DIR]       (default: ./dbx-state)
#   tools/dbx-up.sh --stop [STATE_DIR]
# The account's password is written to STATE_DIR/credentials and
# STATE_DIR/password (mode 0600).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
stop=0
[ "${1:-}" = "--stop" ] && { stop=1; shift; }
state=$(realpath -m "${1:-$PWD/dbx-state}")
port=${DBX_PORT:-8420}
user=${DBX_USER:-$(id -un | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9._-')}
[ -n "$user" ] || user=me
mnt=$(realpath -m "${DBX_MOUNT:-$state/mnt}")

if [ $stop = 1 ]; then
  mountpoint -q "$mnt" && fusermount3 -u "$mnt" && echo "dbxfs unmounted from $mnt"
  [ -f "$state/dbxd.pid" ] && kill "$(cat "$state/dbxd.pid")" 2>/dev/null && echo "dbxd stopped"
  rm -f "$state/dbxd.pid"
  exit 0
fi

"$top/tools/install-deps.sh"
cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$top/build" -j"$(nproc)" >/dev/null
dbxd=$top/build/backend/dbxd
mkdir -p "$state" && chmod 700 "$state"

if [ ! -f "$state/credentials" ]; then
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  echo "$password" | "$dbxd" useradd -d "$state/data" "$user" 2>/dev/null
  (umask 077; printf 'user=%s\npassword=%s\n' "$user" "$password" > "$state/credentials"
   printf '%s\n' "$password" > "$state/password")
fi

if [ -f "$state/dbxd.pid" ] && kill -0 "$(cat "$state/dbxd.pid")" 2>/dev/null; then
  echo "dbxd already running (pid $(cat "$state/dbxd.pid"))"
else
  rm -f "$state/ready"
  nohup "$dbxd" serve -d "$state/data" --listen 127.0.0.1 --port "$port" \
        --ready-file "$state/ready" >>"$state/dbxd.log" 2>&1 &
  echo $! > "$state/dbxd.pid"
  for _ in $(seq 50); do [ -s "$state/ready" ] && break; sleep 0.1; done
  [ -s "$state/ready" ] || { echo "dbxd did not start; see $state/dbxd.log" >&2; exit 1; }
fi
url=$(cat "$state/ready")
. "$state/credentials"
[ -f "$state/password" ] || (umask 077; printf '%s\n' "$password" > "$state/password")
mkdir -p "$mnt"
if mountpoint -q "$mnt"; then
  echo "dbxfs already mounted on $mnt"
else
  "$top/build/fs/dbxfs" -o "server=$url,user=$user,password_file=$state/password" \
      -o "token_file=$state/token,cache_dir=$state/cache" "$mnt"
fi
cat <<MSG
dbxd is serving $url (data in $state/data, log in $state/dbxd.log)
account: $user   password: in $state/credentials (mode 0600)
dbxfs: $user's files are mounted on $mnt (cache and log in $state/cache)

Try it:
  cp -r /etc/default $mnt/ && ls -l $mnt/default
  getfattr -n user.dbxfs.status --only-values $mnt     # sync state
Stop both: tools/dbx-up.sh --stop $state
MSG
