#!/usr/bin/env bash
# The full test suite: installs what it needs, then for a normal build and an
# AddressSanitizer+UBSan build runs the C unit tests (ctest), the API tests
# (pytest against a real dbxd on 127.0.0.1) and the mount tests (pytest:
# real dbxfs FUSE mounts of a real dbxd; needs root and /dev/fuse); for the
# normal build also the install tests (man pages; the .deb built, installed,
# used and removed: they install a package, so run them on a test machine).
#   tests/run.sh           both builds
#   tests/run.sh --fast    the normal build only
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/install-deps.sh

builds=(release asan)
[ "${1:-}" = "--fast" ] && builds=(release)

pass=0 fail=0
run_build() {
  local name=$1 dir=$top/build-test-$1 flags=()
  [ "$name" = asan ] && flags=(-DDBX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  # the release tree is also what the package is made from (tests/install)
  [ "$name" = release ] && flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr)
  echo "=== $name build"
  cmake -S "$top" -B "$dir" -DDBX_WERROR=ON "${flags[@]}" >/dev/null
  cmake --build "$dir" -j"$(nproc)" >/dev/null
  echo "=== $name: unit tests"
  if (cd "$dir" && ctest --output-on-failure); then pass=$((pass + 1)); else fail=$((fail + 1)); fi
  echo "=== $name: API tests"
  # halt_on_error: a sanitizer report in dbxd fails the run, it is not noise
  if ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1 \
     UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     DBXD="$dir/backend/dbxd" DBX_SANITIZED=$([ "$name" = asan ] && echo 1 || echo 0) \
     DBXCTL="$dir/tools/dbxctl/dbxctl" \
     /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/api; then
    pass=$((pass + 1)); else fail=$((fail + 1)); fi
  echo "=== $name: mount tests"
  # the same sanitizer settings reach dbxfs: a report at unmount fails the test
  if ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1 \
     UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     DBXD="$dir/backend/dbxd" DBXFS="$dir/fs/dbxfs" \
     DBXCTL="$dir/tools/dbxctl/dbxctl" \
     DBX_SANITIZED=$([ "$name" = asan ] && echo 1 || echo 0) \
     /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/fs; then
    pass=$((pass + 1)); else fail=$((fail + 1)); fi
  [ "$name" = release ] || return 0
  echo "=== $name: install tests (man pages, the .deb, units, fstab)"
  if DBX_BUILD_DIR="$dir" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/install; then
    pass=$((pass + 1)); else fail=$((fail + 1)); fi
}
for b in "${builds[@]}"; do run_build "$b"; done
echo "suites: $pass passed, $fail failed"
[ "$fail" = 0 ]
