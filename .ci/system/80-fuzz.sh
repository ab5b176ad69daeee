#!/usr/bin/env bash
# Fuzzing in CI: each cargo-fuzz target of fuzz/ (frame, request, hub; see fuzz/README.md) runs
# for 60 s (CLASSCORD_FUZZ_SECONDS; the three side by side) from its committed seeds, on nightly,
# with cargo-fuzz's defaults (optimised, debug assertions and overflow checks on,
# AddressSanitizer). Any crash fails the step: a panic or a failed check, an ASan report, an input
# running longer than 60 s, or a leak or out-of-memory that libFuzzer reports; the input is kept in
# fuzz/artifacts/TARGET/ and its replay command is printed. The committed corpus does not grow:
# each run starts from a scratch copy of fuzz/corpus/TARGET, removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
seconds=${CLASSCORD_FUZZ_SECONDS:-60}
targets=(frame request hub)

t0=$(date +%s)
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    nice -n 10 cargo install --locked cargo-fuzz@0.13.2
fi
echo "toolchain and cargo-fuzz ready in $(( $(date +%s) - t0 ))s: $(cargo +nightly fuzz --version)"

t0=$(date +%s)
nice -n 10 cargo +nightly fuzz build
echo "fuzz targets built in $(( $(date +%s) - t0 ))s"

corpus_files() { find fuzz/corpus -type f | sort | xargs sha1sum; }
committed=$(corpus_files)
scratch=$(mktemp -d /tmp/classcord-fuzz.XXXXXX)
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$scratch"' EXIT
# The three run side by side (60 s of wall time in all, not 180 s): libFuzzer is single-threaded
# and this keeps both cores busy.
for target in "${targets[@]}"; do
    seeds=fuzz/corpus/$target
    [ -n "$(ls -A "$seeds" 2>/dev/null)" ] || { echo "FAIL: no committed seeds in $seeds"; exit 1; }
    cp -r "$seeds" "$scratch/$target"
    extra=()
    # Longer scenarios from the start reach more hub states (fuzz/README.md).
    [ "$target" = hub ] && extra=(-max_len=2048 -len_control=0)
    nice -n 10 cargo +nightly fuzz run "$target" "$scratch/$target" -- -max_total_time="$seconds" \
        -timeout=60 -print_final_stats=1 "${extra[@]}" > "$scratch/$target.log" 2>&1 &
    pids+=($!)
done
summary=() failed=()
for i in "${!targets[@]}"; do
    target=${targets[$i]}
    status=0
    wait "${pids[$i]}" || status=$?
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$scratch/$target.log"
        echo "FAIL: fuzz target $target (exit status $status); replay the input named above with:"
        echo "  cargo +nightly fuzz run $target fuzz/artifacts/$target/<file>"
        failed+=("$target")
        continue
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$target.log" | tail -n 1)
    summary+=("$target: ${runs:-?} inputs in ${seconds}s, no crash; $(ls "fuzz/corpus/$target" | wc -l) seeds -> $(ls "$scratch/$target" | wc -l) corpus entries (scratch copy)")
done
[ "${#failed[@]}" -eq 0 ] || { echo "FAIL: fuzz targets with a crash: ${failed[*]}"; exit 1; }
[ "$(corpus_files)" = "$committed" ] || { echo "FAIL: fuzz/corpus/ changed during the run"; exit 1; }
printf '%s\n' "${summary[@]}"
echo "fuzzing: ${#targets[@]} targets, done in $(( $(date +%s) - started ))s"
