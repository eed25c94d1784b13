#!/bin/bash
# System test of a provider network: a VM on VLAN 100 of a physical network
# (tests/system/physnet.sh: a learning switch with 300 s ageing, each node's
# uplink a trunk port), reached from a host outside the cluster through
# live migrations there and back and a failed one.  The switch's MAC table
# must never point at the target before the VM runs there, must point there
# right after, and no migration flow may be left.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbv$$-}
# Headroom on the underlay for full-size VLAN frames tunnelled while a port
# migrates: 1500 + 14 (inner Ethernet) + 8 (Geneve) + 8 (UDP) + 20 (IPv4).
export LB_UL_MTU=1600
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/physnet.sh"

VLAN=100
cluster_up 10.30.0.0/16 10.30.0.1 --bridge-mappings=physnet1:br-phys
dir=$LB_BED_DIR
physnet_up
for n in 1 2 3; do
    physnet_trunk "node$n" 100,200
done
# The external host and (excluded from IPAM) the router's address.
physnet_host ext "$VLAN" 02:e0:00:00:00:fa 10.100.0.250/16
physnet_switch vlan100 2 10.100.0.0/16 10.100.0.1 physnet1 "$VLAN" 1500 \
    '["10.100.0.1-10.100.0.9", "10.100.0.250"]' >/dev/null
check "br-int patched to br-phys on every node" \
    bed_wait_until 10 on_all_nodes physnet_connected physnet1

# vm_meta VM VMI_UID [VMIM_UID VMIM_NAME] : a virt-launcher pod's metadata
# that puts its NIC on the provider network.
vm_meta() {
    launcher_meta "$@" |
        sed 's|"annotations":{|"annotations":{"livebind.io/logical-switch":"vlan100",|'
}

vmi_uid=$(vmi_create vm1 node1)
check "VM's pod on node1, on the provider network" \
    add_pod node1 launcher-1 "$(vm_meta vm1 "$vmi_uid")"
vm_ip=$(ip_of launcher-1)
vm_mac=$(mac_of launcher-1)
key=$(( (2 << 24) | $(echo "$vm_ip" | awk -F. '{print $3 * 256 + $4}') ))
echo "VM vm1: $vm_ip $vm_mac, port key $(printf '%#x' "$key")"
in_vlan_subnet() {
    case $vm_ip in 10.100.*) ;; *) return 1 ;; esac
    [ "$vm_ip" != 10.100.0.250 ] && [ "${vm_ip#10.100.0.}" = "$vm_ip" ] \
        || [ "${vm_ip#10.100.0.}" -ge 10 ] 2>/dev/null
}
check "the VM's address is in the VLAN's subnet, not excluded" in_vlan_subnet
guest_create guest "$vm_mac" "$vm_ip/16"
ip -n "${LB_PREFIX}guest" link set br0 mtu 1500
vm_pod_bridge launcher-1 guest up-1
ip -n "${LB_PREFIX}guest" link set up-1 up

check "the external host reaches the VM on VLAN $VLAN" \
    bed_exec ext ping -c 3 -i 0.2 -W 2 "$vm_ip"
check "the VM reaches the external host" \
    bed_exec guest ping -c 2 -i 0.2 -W 2 10.100.0.250
vm_on() {  # TRUNK : the switch has the VM's MAC on that port
    test "$(physnet_mac_port "$vm_mac" "$VLAN")" = "$1"
}
check "the switch learned the VM's MAC on node1's trunk" vm_on tr-node1
check "nothing of the VM goes through tunnels (node3 sends to the uplink)" \
    eval "bed_dump_flows node3 | grep -q 'reg15=$(printf '%#x' "$key"),metadata=0x2 actions=resubmit(,45)'"
check "a full-size frame reaches the VM (ping -s 1472, DF)" \
    bed_exec ext ping -c 2 -i 0.2 -W 2 -M do -s 1472 "$vm_ip"

report
