#!/usr/bin/env bash
# The mount benchmark (not a test; ctest never runs it). Measures, side by
# side in one run and interleaved within each workload:
#   local        a directory on the same filesystem (the physical limit)
#   passthrough  libfuse's example passthrough_ll over a local directory,
#                default options (what any FUSE filesystem costs)
#   rclone       rclone mount of an `rclone serve webdav` on 127.0.0.1,
#                --vfs-cache-mode full --vfs-write-back 0s
#   dbxfs        dbxfs mounted against a real dbxd on 127.0.0.1
# Workloads (FSBENCH_WORKLOADS, default "seq creates latency"):
#   seq      (a) write a FSBENCH_GIB file: to close, and until committed
#                (local/passthrough: fsync; rclone: complete in the webdav
#                server's directory; dbxfs: user.dbxfs.status idle)
#            (b) cold read: caches dropped; rclone and dbxfs from a fresh
#                mount with an empty cache, so the bytes come from the server
#            (c) warm read: caches dropped, the same mount again (rclone and
#                dbxfs read their on-disk caches)
#            (f) peak RSS (VmHWM) of the rclone/dbxfs mount that wrote it
#   creates  (d) FSBENCH_FILES files of 4 KiB in one directory, one thread:
#                files/s to the last close, and until all are on the server;
#                rclone and dbxfs also through delayproxy adding
#                FSBENCH_DELAY_MS each way
#   latency  (e) two mounts of one account: write+close a file on A, time
#                until B reads the new bytes (B polled every 2 ms)
# Environment: FSBENCH_GIB (4) or FSBENCH_MIB (file size), FSBENCH_REPS (2),
# FSBENCH_FILES (10000), FSBENCH_DELAY_MS (50), FSBENCH_LATENCY_REPS (50),
# FSBENCH_RCLONE_SLOW_REPS (1: change latency with rclone's default 5 min
# dir cache), FSBENCH_SYSTEMS ("local passthrough rclone dbxfs"),
# FSBENCH_WORKLOADS, FSBENCH_COMMIT_TIMEOUT (600 s), FSBENCH_BUILD
# (build-bench), FSBENCH_NOBUILD=1, FSBENCH_DBXFS (another dbxfs binary),
# TMPDIR (where the directories go; all on one filesystem).
# MB = 10^6 bytes. Logs of the last run: $FSBENCH_BUILD/fsbench-logs/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FSBENCH_BUILD:-$ROOT/build-bench}
GIB=${FSBENCH_GIB:-4}
MIB=${FSBENCH_MIB:-$((GIB * 1024))}
BYTES=$((MIB * 1024 * 1024))
REPS=${FSBENCH_REPS:-2}
FILES=${FSBENCH_FILES:-10000}
FSIZE=4096
DELAY=${FSBENCH_DELAY_MS:-50}
LREPS=${FSBENCH_LATENCY_REPS:-50}
SLOWREPS=${FSBENCH_RCLONE_SLOW_REPS:-1}
SYSTEMS=${FSBENCH_SYSTEMS:-local passthrough rclone dbxfs}
WORKLOADS=${FSBENCH_WORKLOADS:-seq creates latency}
CTIMEOUT=${FSBENCH_COMMIT_TIMEOUT:-600}
EXAMPLES=/usr/share/doc/libfuse3-dev/examples

has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }
sys_on() { has "$SYSTEMS" "$1"; }
wl_on() { has "$WORKLOADS" "$1"; }
[ "$(id -u)" = 0 ] || { echo "fs_run.sh: needs root (drop_caches, mounts)" >&2; exit 1; }

# The command that reruns one figure: this script, restricted.
SIZEENV=$([ -n "${FSBENCH_MIB:-}" ] && echo "FSBENCH_MIB=$MIB" || echo "FSBENCH_GIB=$GIB")
rerun() {   # rerun WORKLOAD SYSTEMS...
    local env="FSBENCH_WORKLOADS=$1"; shift
    case $env in
        *seq) env="$env $SIZEENV FSBENCH_REPS=$REPS" ;;
        *creates) env="$env FSBENCH_FILES=$FILES FSBENCH_DELAY_MS=$DELAY FSBENCH_REPS=$REPS" ;;
        *latency) env="$env FSBENCH_LATENCY_REPS=$LREPS FSBENCH_RCLONE_SLOW_REPS=$SLOWREPS" ;;
    esac
    echo "FSBENCH_SYSTEMS=\"$*\" $env $ROOT/tests/bench/fs_run.sh"
}

# ---- tools ----
if sys_on rclone && ! command -v rclone >/dev/null; then
    apt-get install -y rclone >/dev/null 2>&1 || {
        apt-get update >/dev/null && apt-get install -y rclone >/dev/null; }
fi
if [ "${FSBENCH_NOBUILD:-0}" != 1 ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j2 --target dbxd fsbench delayproxy >/dev/null
    if sys_on dbxfs && [ -f "$ROOT/fs/CMakeLists.txt" ]; then
        cmake --build "$BUILD" -j2 --target dbxfs >/dev/null ||
            echo "fs_run.sh: dbxfs does not build" >&2
    fi
fi
FSB=$BUILD/tests/bench/fsbench
PROXY=$BUILD/tests/bench/delayproxy
DBXD=$BUILD/backend/dbxd
DBXFS=${FSBENCH_DBXFS:-$BUILD/fs/dbxfs}
PT=$BUILD/tests/bench/passthrough_ll
for f in "$FSB" "$PROXY" "$DBXD"; do
    [ -x "$f" ] || { echo "fs_run.sh: missing $f" >&2; exit 1; }
done
if sys_on dbxfs && [ ! -x "$DBXFS" ]; then
    echo "fs_run.sh: no $DBXFS; measuring without dbxfs" >&2
    SYSTEMS=$(echo " $SYSTEMS " | sed 's/ dbxfs / /; s/^ *//; s/ *$//')
fi
if sys_on passthrough && { [ ! -x "$PT" ] || [ "$EXAMPLES/passthrough_ll.c" -nt "$PT" ]; }; then
    gcc -O2 -Wall -D_FILE_OFFSET_BITS=64 -I"$EXAMPLES" -o "$PT" "$EXAMPLES/passthrough_ll.c" \
        $(pkg-config --cflags --libs fuse3)
fi

# ---- work directory, cleanup ----
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fsbench.XXXXXX")
mkdir -p "$WORK/mnt" "$WORK/cache" "$WORK/log" "$WORK/local"
MOUNTS=()
PIDS=()
declare -A MPID=()
LOGKEEP=$BUILD/fsbench-logs
mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }
abort_fuse() {     # MNT: abort its FUSE connection (a hung daemon)
    local dev
    dev=$(awk -v m="$1" '$5 == m { split($3, d, ":"); print d[2] }' /proc/self/mountinfo | tail -n1)
    [ -n "$dev" ] && [ -e "/sys/fs/fuse/connections/$dev/abort" ] &&
        echo 1 > "/sys/fs/fuse/connections/$dev/abort"
    return 0
}
SUMMARY_DONE=0
cleanup() {
    set +e
    local m p i
    [ "$SUMMARY_DONE" = 1 ] || [ ! -s "${RES:-/nonexistent}" ] || {
        echo; echo "fs_run.sh: stopped before the end; the figures so far:"; summary; }
    for m in "${MOUNTS[@]}"; do
        mounted "$m" || continue
        timeout 20 fusermount3 -u "$m" 2>/dev/null ||
            { abort_fuse "$m"; fusermount3 -uz "$m" 2>/dev/null; }
    done
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$LOGKEEP"; cp -r "$WORK/log" "$LOGKEEP" 2>/dev/null
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free space: every copy of the file that can exist at once, +1 GiB.
need=$((MIB + 1024))
sys_on local && need=$((need + MIB))
sys_on passthrough && need=$((need + MIB))
sys_on rclone && need=$((need + 3 * MIB))                    # server, 2 caches
sys_on dbxfs && need=$((need + (2 + REPS) * MIB))            # caches, server copies
wl_on seq || need=2048
avail=$(($(df --output=avail -B1M "$WORK" | tail -n1)))
if [ "$avail" -lt "$need" ]; then
    echo "fs_run.sh: $avail MiB free in $WORK, need $need MiB" >&2; exit 1
fi

RES=$WORK/results
: > "$RES"
rec() { echo "$1 $2" >> "$RES"; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
fps() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
hwm_mib() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
wait_mounted() {   # MNT PID
    local i
    for i in $(seq 600); do
        mountpoint -q "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# guard NAME LIMIT CMD...: runs CMD (its stdout passed on) under a watchdog:
# past LIMIT seconds, prints where CMD and the daemon of mount NAME wait,
# aborts that FUSE connection and fails.
guard() {
    local n=$1 limit=$2; shift 2
    local of=$WORK/guard.$BASHPID.$RANDOM rc=0
    "$@" > "$of" &
    local pid=$! start=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS - start > limit)); then
            hung "$n" "$pid" "$*" "$limit" 2>&1 | tee -a "$WORK/log/hang.txt" >&2
            abort_fuse "$WORK/mnt/$n"
            wait "$pid" 2>/dev/null
            rm -f "$of"
            return 124
        fi
        sleep 0.1
    done
    wait "$pid" || rc=$?
    cat "$of"; rm -f "$of"
    return $rc
}
fsb() { local n=$1 l=$2; shift 2; guard "$n" "$l" "$FSB" "$@"; }
hung() {           # NAME PID WHAT LIMIT
    local n=$1 pid=$2 t d
    echo "HUNG: '$3' still running after $4 s"
    for t in "$pid" $(pgrep -P "$pid" 2>/dev/null); do
        echo "  $t $(tr '\0' ' ' < /proc/$t/cmdline 2>/dev/null | cut -c1-100): waits in $(cat /proc/$t/wchan 2>/dev/null)"
        sed 's/^/      /' "/proc/$t/stack" 2>/dev/null | head -12
    done
    d=${MPID[$n]:-}
    [ -n "$d" ] || return 0
    echo "  daemon of $WORK/mnt/$n, pid $d, threads (syscall nr, first arg):"
    for t in /proc/"$d"/task/*; do
        echo "    $(basename "$t") $(cat "$t/comm") $(cat "$t/wchan") [$(cut -d' ' -f1,2 "$t/syscall")]"
        case $(cat "$t/wchan") in futex*|fuse_dev_do_read|poll_sch*|do_epoll*|hrtimer*|0) ;;
            *) sed 's/^/        /' "$t/stack" | head -10 ;; esac
    done
    if [ -f "$WORK/cache/$n/dbxfs.log" ]; then
        echo "  last lines of its log:"; tail -n 15 "$WORK/cache/$n/dbxfs.log" | sed 's/^/    /'
    fi
}

# ---- servers ----
echo "fs_run.sh: $(nproc) cores, $(free -g | awk '/^Mem/ { print $2 }') GiB RAM," \
     "kernel $(uname -r), work dir $WORK ($avail MiB free)"
echo "systems: $SYSTEMS; workloads: $WORKLOADS; file $MIB MiB, $REPS reps;" \
     "tree $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" status --porcelain fs cache 2>/dev/null | grep -q . && echo ' (fs/ or cache/ uncommitted)');" \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
if sys_on passthrough; then
    mkdir -p "$WORK/ptsrc" "$WORK/mnt/pt"
    "$PT" -f -o source="$WORK/ptsrc" "$WORK/mnt/pt" 2>"$WORK/log/passthrough.log" &
    PIDS+=($!); MPID[pt]=$!; MOUNTS+=("$WORK/mnt/pt")
    wait_mounted "$WORK/mnt/pt" $! || { echo "passthrough_ll did not mount" >&2; exit 1; }
    if wl_on creates; then
        # The same kernel work per create as dbxfs: default_permissions makes
        # the kernel GETATTR the directory after each create, and answering
        # xattrs brings a GETXATTR security.capability before each write.
        mkdir -p "$WORK/ptdpsrc" "$WORK/mnt/ptdp"
        "$PT" -f -o source="$WORK/ptdpsrc",default_permissions,xattr "$WORK/mnt/ptdp" \
            2>"$WORK/log/passthrough-dp.log" &
        PIDS+=($!); MPID[ptdp]=$!; MOUNTS+=("$WORK/mnt/ptdp")
        wait_mounted "$WORK/mnt/ptdp" $! || { echo "passthrough_ll (dp) did not mount" >&2; exit 1; }
    fi
fi
if sys_on rclone; then
    : > "$WORK/rclone.conf"
    mkdir -p "$WORK/rcsrv"
    RCPORT=$(freeport)
    rclone serve webdav "$WORK/rcsrv" --addr "127.0.0.1:$RCPORT" --config "$WORK/rclone.conf" \
        --log-file "$WORK/log/rclone-serve.log" &
    PIDS+=($!)
    RC_URL=http://127.0.0.1:$RCPORT
    for _ in $(seq 100); do curl -s -o /dev/null "$RC_URL/" && break; sleep 0.1; done
    curl -s -o /dev/null "$RC_URL/" || { echo "rclone serve webdav did not start" >&2; exit 1; }
    echo "rclone $(rclone version | head -n1 | awk '{ print $2 }') serving $WORK/rcsrv at $RC_URL"
fi
if sys_on dbxfs; then
    PWFILE=$WORK/password
    (umask 077; echo "bench-password-$$" > "$PWFILE")
    : > "$WORK/dbxfs.conf"
    head -n1 "$PWFILE" | "$DBXD" useradd -d "$WORK/dbxd" alice >/dev/null
    "$DBXD" serve -d "$WORK/dbxd" --listen 127.0.0.1 --port 0 \
        --ready-file "$WORK/dbxd.ready" 2>"$WORK/log/dbxd.log" &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$WORK/dbxd.ready" ] && break; sleep 0.1; done
    [ -s "$WORK/dbxd.ready" ] || { echo "dbxd did not start" >&2; cat "$WORK/log/dbxd.log" >&2; exit 1; }
    DB_URL=$(head -n1 "$WORK/dbxd.ready")
    echo "dbxd at $DB_URL, data in $WORK/dbxd"
fi
start_proxy() {  # VAR URL: a delayproxy in front of URL; VAR=its URL
    local hostport=${2#http://} pf
    hostport=${hostport%%/*}
    pf=$WORK/proxy.${hostport##*:}
    "$PROXY" 0 "${hostport%:*}" "${hostport##*:}" "$DELAY" "$pf" >/dev/null \
        2>>"$WORK/log/delayproxy.log" &
    PIDS+=($!)
    for _ in $(seq 50); do [ -s "$pf" ] && break; sleep 0.05; done
    [ -s "$pf" ] || { echo "delayproxy did not start" >&2; exit 1; }
    printf -v "$1" 'http://127.0.0.1:%s' "$(cat "$pf")"
}
if wl_on creates; then
    sys_on rclone && start_proxy RC_SLOW_URL "$RC_URL"
    sys_on dbxfs && start_proxy DB_SLOW_URL "$DB_URL"
fi

# ---- mounts: NAME -> $WORK/mnt/NAME, cache $WORK/cache/NAME ----
mount_rclone() {   # NAME URL [extra rclone flags]
    local n=$1 url=$2; shift 2
    local m=$WORK/mnt/$n c=$WORK/cache/$n
    mkdir -p "$m" "$c"
    rclone mount :webdav: "$m" --webdav-url "$url" --vfs-cache-mode full \
        --vfs-write-back 0s --cache-dir "$c" --config "$WORK/rclone.conf" \
        --log-file "$WORK/log/rclone-$n.log" "$@" &
    MPID[$n]=$!; PIDS+=($!); MOUNTS+=("$m")
    wait_mounted "$m" "${MPID[$n]}" || { echo "rclone mount $n failed:" >&2; tail "$WORK/log/rclone-$n.log" >&2; exit 1; }
}
mount_dbxfs() {    # NAME URL
    local n=$1 url=$2
    local m=$WORK/mnt/$n c=$WORK/cache/$n
    mkdir -p "$m" "$c"
    MOUNTS+=("$m")
    if ! guard "$n" 120 "$DBXFS" -o "server=$url,user=alice,password_file=$PWFILE,cache_dir=$c,token_file=$c/token,config=$WORK/dbxfs.conf" \
            "$m" >"$WORK/log/dbxfs-$n.log" 2>&1; then
        echo "dbxfs mount $n failed:" >&2; cat "$WORK/log/dbxfs-$n.log" >&2; exit 1
    fi
    MPID[$n]=$(cat "$c/dbxfs.pid")
    PIDS+=("${MPID[$n]}")
    mountpoint -q "$m" || { echo "dbxfs $n: not mounted after dbxfs returned" >&2; exit 1; }
}
unmount() {        # NAME: unmount, wait for the daemon to exit, drop its cache
    local n=$1 m=$WORK/mnt/$1 i
    for i in $(seq 20); do timeout 20 fusermount3 -u "$m" 2>/dev/null && break; sleep 0.5; done
    mounted "$m" && { echo "$n: busy; lazy unmount" >&2; abort_fuse "$m"; fusermount3 -uz "$m"; }
    for i in $(seq 600); do kill -0 "${MPID[$n]}" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "${MPID[$n]}" 2>/dev/null; then
        echo "$n: daemon ${MPID[$n]} still running 60 s after unmount; killed" >&2
        kill -KILL "${MPID[$n]}" 2>/dev/null || true
    fi
    [ -f "$WORK/cache/$n/dbxfs.log" ] && cat "$WORK/cache/$n/dbxfs.log" >> "$WORK/log/dbxfs-$n.log"
    rm -rf --one-file-system "$WORK/cache/$n"
}
wait_size() {      # NAME PATH BYTES SECONDS: until stat shows the size
    fsb "$1" $(($4 + 30)) waitsize "$2" "$3" "$4" >/dev/null
}
order() {          # rep number: the systems, reversed on even reps
    local s list=()
    for s in $SYSTEMS; do list+=("$s"); done
    if [ $(($1 % 2)) = 0 ]; then
        local i; for ((i = ${#list[@]} - 1; i >= 0; i--)); do echo "${list[i]}"; done
    else
        printf '%s\n' "${list[@]}"
    fi
}
fig() { printf '  %-58s rerun: %s\n' "$1" "$2"; }

# ---- summary ----
# med KEY: the median of a figure's reps ("-" if none; "timeout" wins)
med() {
    awk -v k="$1" '$1 == k { if ($2 == "timeout") t = 1; else if ($2 == "never") nv++; else v[n++] = $2 }
        END { if (t) { print "timeout"; exit } if (nv) { print "never"; exit } if (!n) { print "-"; exit }
              for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
              m = n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
              printf (m == int(m) || m >= 100 ? "%.0f" : "%.1f"), m }' "$RES"
}
reps() { awk -v k="$1" '$1 == k { s = s (s ? "/" : "") $2 } END { print s }' "$RES"; }
ratio() {  # A B: A/B as "0.93x" or "-"
    awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > 0 && b + 0 > 0 && a + 0 >= b + 0) }'; }
mark() {   # VALUE CMD...: ✔ or ✘ by CMD, "-" when VALUE (dbxfs's figure) is missing
    local v=$1; shift
    case $v in ""|-) echo "-"; return ;; esac
    if "$@"; then echo "✔"; else echo "✘"; fi
}
cell() {   # KEY UNIT: "median unit (rep/rep)"
    local m; m=$(med "$1")
    [ "$m" = "-" ] && { echo "-"; return; }
    [ "$m" = timeout ] && { echo "> $CTIMEOUT s"; return; }
    local r; r=$(reps "$1")
    if [ "$r" = "$m" ]; then echo "$m $2"; else echo "$m $2 ($r)"; fi
}
row() {    # LABEL KEYPREFIX KEYSUFFIX UNIT TARGETTEXT TARGETMARK RERUN
    local label=$1 k=$2 suf=$3 unit=$4 tt=$5 tm=$6 rr=$7
    local d l p c
    d=$(med "$k.dbxfs$suf"); l=$(med "$k.local$suf"); p=$(med "$k.passthrough$suf"); c=$(med "$k.rclone$suf")
    echo "| $label | $(cell "$k.local$suf" "$unit") | $(cell "$k.passthrough$suf" "$unit") |" \
         "$(cell "$k.rclone$suf" "$unit") | $(cell "$k.dbxfs$suf" "$unit") |" \
         "$(ratio "$d" "$l") | $(ratio "$d" "$p") | $(ratio "$d" "$c") | $tt | $tm | \`$rr\` |"
}
summary() {
    SYSLIST=$SYSTEMS
    echo
    echo "== summary: median of $REPS reps (each rep's figure in brackets); ratios are dbxfs / other," \
         "from medians of one run; MB = 10^6 bytes; $(nproc) cores, client and servers share the CPU"
    echo
    echo "| figure | local disk | passthrough_ll | rclone | dbxfs | dbxfs/local | dbxfs/passthrough | dbxfs/rclone | target | met | rerun |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    if wl_on seq; then
        D=$(med write_close.dbxfs); P=$(med write_close.passthrough)
        row "(a) write $MIB MiB, open to close" write_close "" MB/s "≥ 0.9x passthrough" \
            "$(mark "$D" ge "$D" "$(awk -v p="$P" 'BEGIN { print p * 0.9 }')")" "$(rerun seq $SYSLIST)"
        row "(a) write $MIB MiB, open to committed (local, passthrough: fsync)" write_commit "" MB/s "" "" "$(rerun seq $SYSLIST)"
        D=$(med cold.dbxfs); C=$(med cold.rclone)
        row "(b) cold read (fresh mount, caches dropped)" cold "" MB/s "≥ 1.5x rclone" \
            "$(mark "$D" ge "$D" "$(awk -v c="$C" 'BEGIN { print c * 1.5 }')")" "$(rerun seq $SYSLIST)"
        D=$(med warm.dbxfs); P=$(med warm.passthrough)
        row "(c) warm read (caches dropped, same mount)" warm "" MB/s "≥ passthrough" \
            "$(mark "$D" ge "$D" "$P")" "$(rerun seq $SYSLIST)"
        D=$(med rss.dbxfs)
        row "(f) peak RSS of the mount, $MIB MiB write + upload" rss "" MiB "dbxfs < 256 MiB" \
            "$(mark "$D" awk -v d="$D" 'BEGIN { exit !(d + 0 > 0 && d + 0 < 256) }')" "$(rerun seq $SYSLIST)"
    fi
    if wl_on creates; then
        D=$(med creates.dbxfs.0); P=$(med creates.passthrough.0); DD=$(med "creates.dbxfs.$DELAY")
        row "(d) $FILES creates, files/s to the last close" creates .0 "/s" "≥ passthrough" \
            "$(mark "$D" ge "$D" "$P")" "$(rerun creates $SYSLIST)"
        P=$(med creates.ptdp.0)
        sys_on passthrough && echo "| (d) $FILES creates, files/s, passthrough_ll -o default_permissions,xattr (the same kernel requests as dbxfs) | - | $(cell creates.ptdp.0 /s) | - | $(cell creates.dbxfs.0 /s) | - | $(ratio "$D" "$P") | - | ≥ passthrough | $(mark "$D" ge "$D" "$P") | \`$(rerun creates passthrough dbxfs)\` |"
        row "(d) $FILES creates, files/s until all on the server" creates_commit .0 "/s" "" "" "$(rerun creates $SYSLIST)"
        row "(d) $FILES creates, +$DELAY ms each way, files/s to the last close" creates ".$DELAY" "/s" \
            "≥ 0.9x dbxfs without delay" "$(mark "$DD" ge "$DD" "$(awk -v d="$D" 'BEGIN { print d * 0.9 }')")" \
            "$(rerun creates $SYSLIST)"
        row "(d) $FILES creates, +$DELAY ms each way, until all on the server" creates_commit ".$DELAY" "/s" "" "" \
            "$(rerun creates $SYSLIST)"
    fi
    if wl_on latency; then
        D50=$(med lat_p50.dbxfs); D99=$(med lat_p99.dbxfs); DT=$(med lat_to.dbxfs); D99C=$D99
        case $DT in 0|-) ;; *) D99C="$D99 ($DT reps never seen)" ;; esac
        for v in default dc1; do
            [ "$v" = default ] && lab="rclone default (dir cache 5m)" || lab="rclone --dir-cache-time 1s"
            c50=$(med "lat_p50.rclone_$v"); c99=$(med "lat_p99.rclone_$v")
            [ "$c50" = "-" ] && continue
            [ "$(med "lat_to.rclone_$v")" != 0 ] && c99="$c99 ($(med "lat_to.rclone_$v") timeouts)"
            echo "| (e) change latency p50 / p99 vs $lab | - | - | $c50 / $c99 ms |" \
                 "$D50 / $D99C ms | - | - | $(ratio "$D50" "$c50") / $(ratio "$D99" "${c99%% *}") |" \
                 "dbxfs p50 < 200 ms, p99 < 1 s | $(mark "$D50" awk -v a="$D50" -v b="$D99" 'BEGIN { exit !(a + 0 > 0 && a + 0 < 200 && b + 0 > 0 && b + 0 < 1000) }') |" \
                 "\`$(rerun latency $SYSLIST)\` |"
        done
        if ! sys_on rclone && sys_on dbxfs; then
            echo "| (e) change latency p50 / p99 | - | - | - | $D50 / $D99C ms | - | - | - | p50 < 200 ms, p99 < 1 s |" \
                 "$(mark "$D50" awk -v a="$D50" -v b="$D99" 'BEGIN { exit !(a + 0 > 0 && a + 0 < 200 && b + 0 > 0 && b + 0 < 1000) }') | \`$(rerun latency $SYSLIST)\` |"
        fi
    fi
    echo
    echo "rerun all: FSBENCH_SYSTEMS=\"$SYSLIST\" FSBENCH_WORKLOADS=\"$WORKLOADS\" $SIZEENV FSBENCH_REPS=$REPS" \
         "FSBENCH_FILES=$FILES FSBENCH_DELAY_MS=$DELAY FSBENCH_LATENCY_REPS=$LREPS" \
         "FSBENCH_RCLONE_SLOW_REPS=$SLOWREPS $ROOT/tests/bench/fs_run.sh"
}

# ---- (a, b, c, f) sequential write, cold read, warm read ----
if wl_on seq; then
    echo "== (a,b,c,f) sequential $MIB MiB: write, cold read, warm read"
    for r in $(seq "$REPS"); do
        SEED=$((RANDOM * 32768 + RANDOM + r))
        declare -A FILE=() MN=()
        echo "-- rep $r: write (order: $(order "$r" | xargs); load $(cut -d' ' -f1 /proc/loadavg))"
        for s in $(order "$r"); do
            drop_caches; sleep 1
            WL=$((CTIMEOUT + 900))
            case $s in
            local)
                FILE[$s]=$WORK/local/big-$r; MN[$s]=-
                out=$(fsb - "$WL" write "${FILE[$s]}" "$BYTES" --seed "$SEED" --commit fsync) ;;
            passthrough)
                FILE[$s]=$WORK/mnt/pt/big-$r; MN[$s]=pt
                out=$(fsb pt "$WL" write "${FILE[$s]}" "$BYTES" --seed "$SEED" --commit fsync) ;;
            rclone)
                mount_rclone rcw "$RC_URL"
                out=$(fsb rcw "$WL" write "$WORK/mnt/rcw/big-$r" "$BYTES" --seed "$SEED" \
                      --commit "size:$WORK/rcsrv/big-$r" --timeout "$CTIMEOUT") ;;
            dbxfs)
                mount_dbxfs dbw "$DB_URL"
                out=$(fsb dbw "$WL" write "$WORK/mnt/dbw/big-$r" "$BYTES" --seed "$SEED" \
                      --commit "dbxfs:$WORK/mnt/dbw" --timeout "$CTIMEOUT") ;;
            esac
            eval "$out"
            cl=$(mbps "$BYTES" "$close_s"); rec "write_close.$s" "$cl"
            line="write $s: to close $cl MB/s (${close_s} s)"
            if [ "$commit_s" = "-1.0000" ]; then
                rec "write_commit.$s" "timeout"; line="$line, not committed in $CTIMEOUT s"
            else
                cm=$(mbps "$BYTES" "$commit_s"); rec "write_commit.$s" "$cm"
                line="$line, committed $cm MB/s (${commit_s} s)"
            fi
            case $s in
            rclone) h=$(hwm_mib "${MPID[rcw]}"); rec "rss.$s" "$h"; line="$line, peak RSS $h MiB"; unmount rcw ;;
            dbxfs) h=$(hwm_mib "${MPID[dbw]}"); rec "rss.$s" "$h"; line="$line, peak RSS $h MiB"; unmount dbw ;;
            esac
            fig "$line" "$(rerun seq "$s")"
        done
        echo "-- rep $r: cold read, caches dropped, rclone/dbxfs from a fresh mount"
        for s in $(order "$r"); do
            case $s in
            rclone) mount_rclone rcr "$RC_URL"; FILE[$s]=$WORK/mnt/rcr/big-$r; MN[$s]=rcr ;;
            dbxfs) mount_dbxfs dbr "$DB_URL"; FILE[$s]=$WORK/mnt/dbr/big-$r; MN[$s]=dbr ;;
            esac
            wait_size "${MN[$s]}" "${FILE[$s]}" "$BYTES" 120 ||
                { echo "$s: ${FILE[$s]} not there with $BYTES bytes in 120 s" >&2; exit 1; }
            drop_caches; sleep 1
            out=$(fsb "${MN[$s]}" 1800 read "${FILE[$s]}" --seed "$SEED"); eval "$out"
            [ "$bytes" = "$BYTES" ] && [ "$bad" = 0 ] ||
                echo "  WARNING: $s cold read: $bytes bytes, $bad MiB blocks differ" >&2
            v=$(mbps "$bytes" "$read_s"); rec "cold.$s" "$v"
            fig "cold read $s: $v MB/s (${read_s} s)" "$(rerun seq "$s")"
        done
        echo "-- rep $r: warm read, caches dropped, same mount"
        for s in $(order "$r"); do
            drop_caches; sleep 1
            out=$(fsb "${MN[$s]}" 1800 read "${FILE[$s]}" --seed "$SEED"); eval "$out"
            [ "$bytes" = "$BYTES" ] && [ "$bad" = 0 ] ||
                echo "  WARNING: $s warm read: $bytes bytes, $bad MiB blocks differ" >&2
            v=$(mbps "$bytes" "$read_s"); rec "warm.$s" "$v"
            fig "warm read $s: $v MB/s (${read_s} s)" "$(rerun seq "$s")"
        done
        for s in $SYSTEMS; do    # not timed: free the space for the next rep
            guard "${MN[$s]}" 300 rm -f "${FILE[$s]}"
            case $s in
            rclone) for _ in $(seq 300); do [ -e "$WORK/rcsrv/big-$r" ] || break; sleep 0.1; done
                    unmount rcr ;;
            dbxfs) fsb dbr $((CTIMEOUT + 60)) waitidle "$WORK/mnt/dbr" "$CTIMEOUT" >/dev/null ||
                       echo "dbxfs: delete not pushed in $CTIMEOUT s" >&2
                   unmount dbr ;;
            esac
        done
        rm -f "$WORK/rcsrv/big-$r"
    done
fi

# ---- (d) small-file creates ----
if wl_on creates; then
    echo "== (d) $FILES files of $FSIZE bytes in one directory, one thread"
    for r in $(seq "$REPS"); do
        for d in 0 "$DELAY"; do
            echo "-- rep $r, added delay $d ms each way (order: $(order "$r" | xargs); load $(cut -d' ' -f1 /proc/loadavg))"
            for s in $(order "$r"); do
                [ "$d" != 0 ] && { [ "$s" = local ] || [ "$s" = passthrough ]; } && continue
                SEED=$((RANDOM * 32768 + RANDOM))
                dir=c-$r-$d
                sync; sleep 1
                case $s in
                local) out=$(fsb - 1800 creates "$WORK/local/$dir" "$FILES" "$FSIZE" --seed "$SEED") ;;
                passthrough) out=$(fsb pt 1800 creates "$WORK/mnt/pt/$dir" "$FILES" "$FSIZE" --seed "$SEED") ;;
                rclone)
                    url=$RC_URL; [ "$d" != 0 ] && url=$RC_SLOW_URL
                    mount_rclone rcc "$url"
                    out=$(fsb rcc $((CTIMEOUT + 1800)) creates "$WORK/mnt/rcc/$dir" "$FILES" "$FSIZE" --seed "$SEED" \
                          --commit "count:$WORK/rcsrv/$dir" --timeout "$CTIMEOUT") ;;
                dbxfs)
                    url=$DB_URL; [ "$d" != 0 ] && url=$DB_SLOW_URL
                    mount_dbxfs dbc "$url"
                    out=$(fsb dbc $((CTIMEOUT + 1800)) creates "$WORK/mnt/dbc/$dir" "$FILES" "$FSIZE" --seed "$SEED" \
                          --commit "dbxfs:$WORK/mnt/dbc" --timeout "$CTIMEOUT") ;;
                esac
                eval "$out"
                v=$(fps "$FILES" "$create_s"); rec "creates.$s.$d" "$v"
                line="creates $s +${d}ms: $v files/s (${create_s} s)"
                if [ "$s" = rclone ] || [ "$s" = dbxfs ]; then
                    if [ "$commit_s" = "-1.0000" ]; then
                        rec "creates_commit.$s.$d" timeout; line="$line, not all on the server in $CTIMEOUT s"
                    else
                        c=$(fps "$FILES" "$commit_s"); rec "creates_commit.$s.$d" "$c"
                        line="$line, on the server $c files/s (${commit_s} s)"
                    fi
                fi
                case $s in
                local) rm -rf "$WORK/local/$dir" ;;
                passthrough)
                    guard pt 300 rm -rf "$WORK/mnt/pt/$dir"
                    sync; sleep 1
                    eval "$(fsb ptdp 1800 creates "$WORK/mnt/ptdp/$dir" "$FILES" "$FSIZE" --seed "$SEED")"
                    v=$(fps "$FILES" "$create_s"); rec "creates.ptdp.$d" "$v"
                    fig "creates passthrough -o default_permissions,xattr: $v files/s (${create_s} s)" \
                        "$(rerun creates passthrough)"
                    guard ptdp 300 rm -rf "$WORK/mnt/ptdp/$dir" ;;
                rclone) unmount rcc ;;
                dbxfs) unmount dbc ;;
                esac
                fig "$line" "$(rerun creates "$s")"
            done
        done
    done
fi

# ---- (e) change latency between two mounts ----
latency_run() {    # KEY A B TIMEOUT REPS [fsbench options]: B polled every 2 ms
    local key=$1 a=$2 b=$3 to=$4 n=$5; shift 5
    local out
    out=$(fsb "$b" $((n * (to + 1) + 120)) latency "$WORK/mnt/$a/lat/f" "$WORK/mnt/$b/lat/f" "$n" \
          --timeout "$to" --interval-ms 2 --gap-ms 100 "$@")
    eval "$out"
    [ "$p50_ms" = -1.0 ] && p50_ms=never; [ "$p99_ms" = -1.0 ] && p99_ms=never
    rec "lat_p50.$key" "$p50_ms"; rec "lat_p99.$key" "$p99_ms"; rec "lat_to.$key" "$timeouts"
    LATLINE="p50 $p50_ms ms, p99 $p99_ms ms, min $min_ms, max $max_ms ms over $n seen"
    [ "$timeouts" != 0 ] && LATLINE="$LATLINE; $timeouts of $((n + timeouts)) never seen within $to s (counted as latest)"
    return 0
}
if wl_on latency; then
    echo "== (e) change latency: write+close on mount A until mount B reads the new bytes"
    if sys_on dbxfs; then
        mount_dbxfs dla "$DB_URL"; mount_dbxfs dlb "$DB_URL"
        guard dla 60 mkdir -p "$WORK/mnt/dla/lat"
        guard dla 60 sh -c 'printf "init\n" > "$1"' - "$WORK/mnt/dla/lat/f"
        fsb dla 90 waitidle "$WORK/mnt/dla" 60 >/dev/null || echo "dbxfs A: not idle in 60 s" >&2
        fsb dlb 90 waitcontent "$WORK/mnt/dlb/lat/f" $'init\n' 60 >/dev/null ||
            echo "dbxfs B: initial file not seen in 60 s" >&2
        latency_run dbxfs dla dlb 10 "$LREPS" --idle "$WORK/mnt/dla"
        fig "dbxfs: $LATLINE" "$(rerun latency dbxfs)"
        unmount dla; unmount dlb
    fi
    if sys_on rclone; then
        for variant in default dc1; do
            extra=(); n=$SLOWREPS; to=330
            [ $variant = dc1 ] && { extra=(--dir-cache-time 1s); n=$LREPS; to=30; }
            [ "$n" = 0 ] && continue
            # B mounts once the file is on the server: else its cached
            # listing of the root would not have the directory.
            mount_rclone rla "$RC_URL" "${extra[@]}"
            mkdir -p "$WORK/mnt/rla/lat"; printf 'init\n' > "$WORK/mnt/rla/lat/f"
            wait_size - "$WORK/rcsrv/lat/f" 5 60 || echo "rclone A: initial file not uploaded" >&2
            mount_rclone rlb "$RC_URL" "${extra[@]}"
            fsb rlb 90 waitcontent "$WORK/mnt/rlb/lat/f" $'init\n' 60 >/dev/null ||
                echo "rclone B: initial file not seen in 60 s" >&2
            latency_run "rclone_$variant" rla rlb "$to" "$n"
            if [ $variant = default ]; then
                fig "rclone, dir-cache-time 5m (default): $LATLINE" "$(rerun latency rclone)"
            else
                fig "rclone --dir-cache-time 1s: $LATLINE" "$(rerun latency rclone)"
            fi
            rm -f "$WORK/mnt/rla/lat/f"
            unmount rla; unmount rlb
            rm -rf "$WORK/rcsrv/lat"
        done
    fi
fi

summary
SUMMARY_DONE=1
