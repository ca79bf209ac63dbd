#!/usr/bin/env bash
# Quick start: builds dbxfs, starts dbxd with its embedded store (LMDB +
# a local chunk directory) on 127.0.0.1, and creates an account to use.
#   tools/dbx-up.sh [STATE_DIR]       (default: ./dbx-state)
#   tools/dbx-up.sh --stop [STATE_DIR]
# The account's password is written to STATE_DIR/credentials (mode 0600).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
stop=0
[ "${1:-}" = "--stop" ] && { stop=1; shift; }
state=$(realpath -m "${1:-$PWD/dbx-state}")
port=${DBX_PORT:-8420}
user=${DBX_USER:-$(id -un | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9._-')}
[ -n "$user" ] || user=me

if [ $stop = 1 ]; then
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
  (umask 077; printf 'user=%s\npassword=%s\n' "$user" "$password" > "$state/credentials")
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
cat <<MSG
dbxd is serving $url (data in $state/data, log in $state/dbxd.log)
account: $user   password: in $state/credentials (mode 0600)

Try it:
  TOKEN=\$(curl -s -X POST $url/v1/login -d '{"user":"$user","password":"'"\$(sed -n 's/^password=//p' $state/credentials)"'"}' | sed 's/.*"token":"\\([0-9a-f]*\\)".*/\\1/')
  curl -s -H "Authorization: Bearer \$TOKEN" $url/v1/me
Stop it: tools/dbx-up.sh --stop $state
MSG
