# sandbox-vm.sh - the VM of utilities/livebind-sandbox, sourced by it: a
# real QEMU guest live-migrated by QEMU (tests/system/qemu.sh) when QEMU
# can run here, else the namespace guest of tests/system/migration.sh whose
# bridge switches uplinks and whose RARPs a script sends.
#
# The sandbox calls sb_vm_pick once, then the sb_* steps below in order;
# each does what its VM needs at that point of KubeVirt's phases and
# nothing for the other.  Uses the sandbox's $dir, $vm_ip, $vm_mac,
# $vmi_uid and say().

. "$srcdir/tests/system/qemu.sh"

# sb_vm_pick [namespace] : SB_VM=qemu if QEMU can run a guest here (and it
# was not asked for the namespace guest), else SB_VM=namespace, saying why.
sb_vm_pick() {
    local why
    SB_VM=namespace
    if [ "${1-}" = namespace ]; then
        say "the VM: the namespace guest (--namespace-vm)"
        return 0
    fi
    say "the VM: building the QEMU guest (once: utilities/build-guest.sh)"
    why=$(qemu_check && echo "guest $QEMU_GUEST") || {
        say "QEMU cannot run a guest here: $why"
        say "falling back to the namespace guest"
        return 0
    }
    QEMU_GUEST=${why##*guest }
    SB_VM=qemu
    say "the VM: QEMU $("$QEMU_BIN" --version | head -1 | awk '{print $4}')" \
        "(TCG), guest in $QEMU_GUEST"
}

# sb_vm_attach POD : the VM behind its first virt-launcher pod, reachable.
sb_vm_attach() {
    if [ "$SB_VM" = namespace ]; then
        guest_create guest "$vm_mac" "$vm_ip/16"
        vm_pod_bridge "$1" guest up-1
        ip -n "${LB_PREFIX}guest" link set up-1 up
        return
    fi
    QEMU_VM=vm1 QEMU_VMI_UID=$vmi_uid QEMU_VM_MAC=$vm_mac
    QEMU_VM_IP=$vm_ip/16 QEMU_VM_GW=10.244.0.1
    qemu_pod_attach "$1"
    say "$1: eth0 lost its address and MAC;" \
        "bridge k6t-eth0 holds eth0 and tap0"
    qemu_start "$1"
    say "QEMU boots the guest on tap0 with the pod's IP and MAC" \
        "(TCG: a few seconds)"
    local t0=$SECONDS
    bed_wait_until 120 bed_exec client ping -c 1 -W 1 "$vm_ip" >/dev/null
    say "the guest answers the client after $((SECONDS - t0)) s"
}

# sb_canary_start : the client streams sequence-numbered TCP messages to
# the VM every 10 ms; sets sb_canary_pids.
sb_canary_start() {
    if [ "$SB_VM" = namespace ]; then
        bed_bg guest "$dir/canary-server.log" python3 \
            "$srcdir/tests/system/canary.py" server 7000 "$dir/canary.json"
        sb_canary_pids=$BED_BG_PID
        bed_wait_until 5 bed_exec guest sh -c 'ss -ltn | grep -q :7000'
        bed_bg client "$dir/canary-client.log" python3 \
            "$srcdir/tests/system/canary.py" client "$vm_ip" 7000 10
        sb_canary_pids="$BED_BG_PID $sb_canary_pids"
        return
    fi
    say "the guest's echo server sends each message back"
    bed_bg client "$dir/canary-client.log" python3 \
        "$srcdir/tests/system/echo-canary.py" tcp "$vm_ip" 7 \
        "$dir/canary.json" 10
    sb_canary_pids=$BED_BG_PID
}

# sb_canary [FILE] : one line about the canary (FILE: the live counts, by
# default, or the final summary).
sb_canary() {
    local f=${1:-$dir/canary.json.live}
    python3 - "$f" <<'PY' 2>/dev/null || echo "no data yet"
import json, sys
s = json.load(open(sys.argv[1]))
if "echoed" in s and "sent" not in s:
    print("%d echoed back" % s["echoed"])
elif "echoed" in s:
    print("%d sent, %d echoed back, %d lost, max gap %.1f ms, %d connection(s)"
          % (s["sent"], s["echoed"], s["lost"], s["max_gap_ms"],
             s["connections"]))
else:
    print("%d received, %d lost, max gap %.1f ms, %d connection(s)"
          % (s["received"], s["lost"], s["max_gap_ms"], s["connections"]))
PY
}

# sb_canary_stop : stop the canary; print "LOST CONNECTIONS" of its
# summary.
sb_canary_stop() {
    local p
    for p in $sb_canary_pids; do
        kill "$p"
        sleep 0.3
    done
    bed_wait_until 10 test -s "$dir/canary.json"
    echo "$(qemu_json "$dir/canary.json" lost)" \
        "$(qemu_json "$dir/canary.json" connections)"
}

# sb_target_attach POD : the target pod's side of the VM.
sb_target_attach() {
    if [ "$SB_VM" = namespace ]; then
        vm_pod_bridge "$1" guest up-2
        return
    fi
    qemu_pod_attach "$1"
    qemu_tap_capture "$1"
    qemu_start "$1" --incoming
    say "$1: k6t-eth0 and tap0 as on the source;" \
        "QEMU started with -incoming defer"
}

# sb_target_ready POD : before TargetReady, the target QEMU listens.
sb_target_ready() {
    [ "$SB_VM" = qemu ] || return 0
    qmp "$1" migrate-incoming "{\"uri\":\"unix:$dir/qemu.sandbox.mig\"}" \
        >/dev/null
    say "target QEMU listens for the migration stream (a unix socket, as"
    say "virt-launcher hands it to virt-handler's migration proxy)"
}

# sb_run SRC_POD [slow] : at Running, QEMU migrates (slowly, to give time
# to cancel it).
sb_run() {
    [ "$SB_VM" = qemu ] || return 0
    [ "${2-}" != slow ] ||
        qmp "$1" migrate-set-parameters '{"max-bandwidth": 2000000}' >/dev/null
    qmp "$1" migrate "{\"uri\":\"unix:$dir/qemu.sandbox.mig\"}" >/dev/null
    say "QMP migrate: the source QEMU copies the guest's memory"
}

# sb_cancel SRC_POD TGT_POD : the migration fails: QMP migrate_cancel, the
# target QEMU goes.
sb_cancel() {
    [ "$SB_VM" = qemu ] || return 0
    qmp "$1" migrate_cancel >/dev/null
    python3 "$srcdir/tests/system/qmp.py" "$dir/qemu.$1.qmp" \
        --wait-migration 30 >/dev/null || true
    say "QMP migrate_cancel: the guest runs on at the source" \
        "($(qemu_status "$1"))"
    qemu_stop "$2"
}

# sb_cutover SRC_POD TGT_POD : the VM resumes behind the target pod and
# announces itself.
sb_cutover() {
    if [ "$SB_VM" = namespace ]; then
        cutover_and_announce guest "$vm_mac" up-1 up-2
        return
    fi
    qemu_mig_wait "$1" "$2" 60 ||
        { say "the migration did not complete"; return 1; }
    local r; r=$(qemu_tap_report "$2" "$(ip_of client)")
    say "QEMU: migration completed, downtime $(qemu_mig_downtime "$1") ms" \
        "(source STOP -> target RESUME $(qemu_stop_to_resume "$1" "$2") ms)"
    python3 - "$r" "$(qemu_event_time "$2" RESUME)" <<'PY' | sed 's/^/   /'
import json, sys, time
r, resume = json.loads(sys.argv[1]), float(sys.argv[2])
print("RESUME on node2 at %s.%03d" % (time.strftime("%H:%M:%S",
      time.localtime(resume)), int(resume * 1000) % 1000))
print("  +%s ms  QEMU's first RARP from the VM's MAC on the target tap"
      % r["resume_to_rarp_ms"])
print("  +%s ms  the client's first frame to the VM on the target tap"
      % r["resume_to_client_ms"])
print("  +%s ms  the guest's gratuitous ARP" % r["resume_to_garp_ms"])
print("frames handed to the target QEMU before RESUME: %d"
      % r["to_vm_before_resume"])
PY
}

# sb_complete SRC_POD : the source QEMU, done, goes.
sb_complete() {
    [ "$SB_VM" = qemu ] || return 0
    qemu_stop "$1"
    say "the source QEMU quit"
}
