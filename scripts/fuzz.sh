#!/usr/bin/env bash
# Fuzzes every parser of bytes from outside (issue #6 item 5): each target in fuzz/ runs for a
# bounded time, then one summary line per target. Exits non-zero when any target crashed.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     # default: 60 s, every target
#
# Targets, properties and what to do with a crash: docs/RELIABILITY.md, "Fuzzing". Not run by
# CI (.ci/run): it takes minutes and needs an instrumented build of its own.
#
# cargo-fuzz wants a nightly compiler for its -Z flags; on stable, RUSTC_BOOTSTRAP=1 lets
# rustc accept them. Builds go to fuzz/target (FRONTDESK_FUZZ_TARGET_DIR to change it), never
# the main workspace's target dir: every crate is compiled with coverage instrumentation.
# New inputs libFuzzer finds go to fuzz/work/<target> (git-ignored, kept between runs); the
# committed seeds in fuzz/corpus/<target> are only read. Crashes land in fuzz/artifacts/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

secs="${1:-60}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
shift || true

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FRONTDESK_FUZZ_TARGET_DIR:-$root/fuzz/target}"
# Every crate is forbid(unsafe): panics and overflows are the bugs to find, so no sanitizer
# (AddressSanitizer would double the build and run times for memory bugs safe Rust cannot
# have); debug assertions and overflow checks on; more codegen units for a quicker build.
build_flags=(--sanitizer none --debug-assertions --codegen-units 16)
# Inputs up to 4 KiB (the size of a patient message), 10 s per input counts as a hang.
fuzz_flags=(-max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cd fuzz
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

echo "== building ${#targets[@]} fuzz targets (${CARGO_TARGET_DIR})"
cargo fuzz build "${build_flags[@]}"

failed=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "work/$t" "corpus/$t"
  log="work/$t.log"
  echo "== $t: ${secs} s"
  set +e
  cargo fuzz run "${build_flags[@]}" "$t" "work/$t" "corpus/$t" -- \
    "${fuzz_flags[@]}" -max_total_time="$secs" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  crash=$(grep -Eo 'artifacts/[^ ]+/(crash|leak|timeout|oom|slow-unit)-[0-9a-f]+' "$log" | tail -n 1 || true)
  if [ "$rc" -ne 0 ] || [ -n "$crash" ]; then
    failed=1
    verdict="CRASH ${crash:-(exit $rc, see fuzz/$log)}"
  else
    verdict="ok, no crash"
  fi
  line=$(printf '%-20s %6ss  runs %-10s exec/s %-7s cov %-6s ft %-6s corpus %-5s %s' \
    "$t" "$secs" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$verdict")
  echo "$line"
  summary+=("$line")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "A target crashed. Reproduce it with:"
  echo "  cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run ${build_flags[*]} TARGET artifacts/TARGET/crash-…"
  echo "then minimise (cargo fuzz tmin …), fix, and add a regression test (docs/RELIABILITY.md)."
  exit 1
fi
