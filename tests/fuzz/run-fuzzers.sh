#!/bin/sh
# Runs the libFuzzer harnesses of tests/fuzz, each for FUZZ_SECONDS, on its
# corpus: what earlier runs found (kept in the build directory), the seeds
# kept in git (tests/fuzz/corpus/NAME, each defect's input among them) and
# seeds built from the fixtures (tests/fixtures, and ../shared/fixtures
# beside the clone when it is there).
#
# Usage: run-fuzzers.sh [NAME...]      NAME: cni, k8s-stream, ... (all if
#                                      none; "fuzz-" and directories are
#                                      ignored, so make's list works too)
# Environment: LB_BUILDDIR (a build directory configured with
#   --enable-fuzzing; required), FUZZ_SECONDS (default 60).
# Exit status: 0 if no harness found anything; otherwise 1, with the input
# that did it under $LB_BUILDDIR/tests/fuzz/findings/ and the log's end
# printed.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${LB_BUILDDIR:?set LB_BUILDDIR to a build directory configured with --enable-fuzzing}
seconds=${FUZZ_SECONDS:-60}
work=$build/tests/fuzz/work
findings=$build/tests/fuzz/findings

names=
for arg in "$@"; do
    n=${arg##*/}
    names="$names ${n#fuzz-}"
done
if [ -z "$names" ]; then
    names="cni ct-dump derive k8s-config k8s-objects k8s-stream model packet-in svc-ct"
fi

# Seeds from the fixtures, built afresh each run.
rm -rf "$work/seeds"
mkdir -p "$work/seeds" "$findings"
fixtures="$top/tests/fixtures"
if [ -d "$top/../shared/fixtures" ]; then
    fixtures="$fixtures $top/../shared/fixtures"
fi
python3 "$top/tests/fuzz/make-seeds.py" "$work/seeds" $fixtures

failed=
for name in $names; do
    harness=$build/tests/fuzz/fuzz-$name
    if [ ! -x "$harness" ]; then
        echo "run-fuzzers: $harness: not built" >&2
        exit 1
    fi
    corpus=$work/corpus/$name
    mkdir -p "$corpus" "$work/seeds/$name"
    dirs="$corpus $work/seeds/$name"
    if [ -d "$top/tests/fuzz/corpus/$name" ]; then
        dirs="$dirs $top/tests/fuzz/corpus/$name"
    fi
    log=$work/$name.log

    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: one input
    # taking 2 GB is a memory bomb.  Leaks are found at the end of each
    # input (detect_leaks, on by default).
    rc=0
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$harness" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$findings/$name-" $dirs >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ $rc = 0 ]; then
        echo "PASS: fuzz-$name: ${runs:-?} inputs in ${seconds} s," \
             "${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l) new"
    else
        echo "FAIL: fuzz-$name (exit $rc); input in $findings," \
             "log $log:"
        grep -v '^#' "$log" | tail -40
        failed="$failed $name"
    fi
done
[ -z "$failed" ] || { echo "fuzzers that found something:$failed"; exit 1; }
