#!/usr/bin/python3
"""Who had the CPUs in a window of a `perf record -e sched:sched_switch,
sched:sched_wakeup` profile (the scale bench's bench/perf.data).

Usage:
  sched-window.py PERF_DATA WALL_MINUS_MONO START_US END_US [NAME=TID...]

PERF_DATA was recorded with "-k mono"; WALL_MINUS_MONO (seconds) turns
the wall clock times START_US and END_US (microseconds since the epoch)
into its clock.  Prints, for each thread TID (called NAME: a switch's
main thread), how long it ran and how long it was runnable but off the
CPU in the window; then the CPU time each command name had in it, the
largest first.  Reads the profile through `perf script`.  Exit: 0, or 1
if perf could not read it.
"""

import collections
import re
import subprocess
import sys

SWITCH = re.compile(r"prev_comm=(.*?) prev_pid=(\d+) prev_prio=\d+ "
                    r"prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)")
WAKEUP = re.compile(r"comm=(.*?) pid=(\d+) prio")
LINE = re.compile(r"\s*(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s+(.*)")


def main():
    if len(sys.argv) < 5:
        sys.stderr.write(__doc__)
        return 1
    data, offset = sys.argv[1], float(sys.argv[2])
    t0 = int(sys.argv[3]) / 1e6 - offset
    t1 = int(sys.argv[4]) / 1e6 - offset
    tids = [(a.partition("=")[0], int(a.partition("=")[2]))
            for a in sys.argv[5:]]
    try:
        # A second before the window: who was on each CPU when it opened.
        text = subprocess.run(
            ["perf", "script", "-i", data, "--time",
             "%.6f,%.6f" % (t0 - 1, t1),
             "-F", "tid,cpu,time,event,trace"],
            capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print("sched-window: perf script: %s" % e, file=sys.stderr)
        return 1

    ran = collections.Counter()         # comm -> seconds on a CPU
    tid_ran = collections.Counter()     # tid -> seconds on a CPU
    tid_waited = collections.Counter()  # tid -> seconds runnable, off CPU
    on_cpu = {}                         # cpu -> (tid, comm, since)
    runnable = {}                       # tid -> since when

    def overlap(a, b):
        return max(0.0, min(b, t1) - max(a, t0))

    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        cpu, t, event, rest = int(m[2]), float(m[3]), m[4], m[5]
        if event.endswith("sched_wakeup"):
            w = WAKEUP.search(rest)
            if w:
                runnable.setdefault(int(w[2]), t)
            continue
        if not event.endswith("sched_switch"):
            continue
        s = SWITCH.search(rest)
        if not s:
            continue
        prev_tid, state = int(s[2]), s[3]
        next_comm, next_tid = s[4], int(s[5])
        if cpu in on_cpu:
            tid, comm, since = on_cpu[cpu]
            ran[comm] += overlap(since, t)
            tid_ran[tid] += overlap(since, t)
        if state.startswith("R"):       # Preempted: still runnable.
            runnable[prev_tid] = t
        since = runnable.pop(next_tid, None)
        if since is not None:
            tid_waited[next_tid] += overlap(since, t)
        on_cpu[cpu] = (next_tid, next_comm, t)
    for tid, comm, since in on_cpu.values():
        ran[comm] += overlap(since, t1)
        tid_ran[tid] += overlap(since, t1)
    for tid, since in runnable.items():
        tid_waited[tid] += overlap(since, t1)

    print("window: %.1f ms" % ((t1 - t0) * 1e3))
    for name, tid in tids:
        print("%s (thread %d): ran %.1f ms, runnable but waiting %.1f ms"
              % (name, tid, tid_ran[tid] * 1e3, tid_waited[tid] * 1e3))
    for comm, seconds in ran.most_common(8):
        if comm.startswith("swapper"):
            comm = "(idle)"
        print("cpu: %s %.1f ms" % (comm, seconds * 1e3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
