#!/usr/bin/env bash
# Fuzzing in CI: each cargo-fuzz target of fuzz/ (frame, request, hub; see fuzz/README.md) runs
# for 60 s (CLASSCORD_FUZZ_SECONDS) from its committed seeds, on nightly, with cargo-fuzz's
# defaults (optimised, debug assertions and overflow checks on, AddressSanitizer). Any crash fails
# the step: a panic or a failed check, an ASan report, an input running longer than 60 s, or a
# leak or out-of-memory that libFuzzer reports; the input is kept in fuzz/artifacts/TARGET/ and
# its replay command is printed. The committed corpus does not grow: each run starts from a
# scratch copy of fuzz/corpus/TARGET, removed afterwards.
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
trap 'rm -rf "$scratch"' EXIT
summary=()
for target in "${targets[@]}"; do
    seeds=fuzz/corpus/$target
    [ -n "$(ls -A "$seeds" 2>/dev/null)" ] || { echo "FAIL: no committed seeds in $seeds"; exit 1; }
    corpus=$scratch/$target
    cp -r "$seeds" "$corpus"
    extra=()
    # Longer scenarios from the start reach more hub states (fuzz/README.md).
    [ "$target" = hub ] && extra=(-max_len=2048 -len_control=0)
    log=$scratch/$target.log
    status=0
    nice -n 10 cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$seconds" \
        -timeout=60 -print_final_stats=1 "${extra[@]}" > "$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log"
        echo "FAIL: fuzz target $target (exit status $status); replay with:"
        echo "  cargo +nightly fuzz run $target fuzz/artifacts/$target/<file named above>"
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    summary+=("$target: ${runs:-?} inputs in ${seconds}s, no crash; corpus $(ls "$seeds" | wc -l) seeds -> $(ls "$corpus" | wc -l) entries (scratch)")
done
[ "$(corpus_files)" = "$committed" ] || { echo "FAIL: fuzz/corpus/ changed during the run"; exit 1; }
printf '%s\n' "${summary[@]}"
echo "fuzzing: ${#targets[@]} targets, done in $(( $(date +%s) - started ))s"
