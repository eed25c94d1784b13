# policy.sh - the policed VM of the NetworkPolicy system tests
# (test-policy-migration.sh, test-policy-idle-handover.sh).  Source it
# after vms.sh; call policy_vm_up once cluster_up has run.

# policy_vm_up : client A ("client", node3, role client-a), client B
# ("client-b", node1), server S ("server", node3, role server) and the VM
# vm1 on node1 with its IPv6 address as SLAAC would make it (the prefix
# and the EUI-64 of its MAC, which the CNI result carries); sets vm_ip,
# vm_ip6, key, keyhex and the clients' and server's a_ip, a_ip6, b_ip,
# b_ip6, s_ip, s_ip6.
policy_vm_up() {
    check "client A on node3" add_pod node3 client \
        '"labels":{"role":"client-a"}'
    check "client B on node1" add_pod node1 client-b \
        '"labels":{"role":"client-b"}'
    check "server S on node3" add_pod node3 server '"labels":{"role":"server"}'
    check "VM vm1 on node1" vm_new vm1
    vm_ip=$(vm_ip vm1)
    key=${VM_KEY[vm1]}
    keyhex=$(printf '%#x' "$key")
    s_ip=$(ip_of server)
    b_ip=$(ip_of client-b)
    a_ip=$(ip_of client)
    vm_ip6=$(ip6_of vm1-l0)
    s_ip6=$(ip6_of server)
    b_ip6=$(ip6_of client-b)
    a_ip6=$(ip6_of client)
    ip -n "${LB_PREFIX}g-vm1" -6 addr replace "$vm_ip6/64" dev br0 nodad
    echo "VM vm1: $vm_ip $vm_ip6, port key $keyhex; A $a_ip $a_ip6," \
        "B $b_ip $b_ip6, S $s_ip $s_ip6"
}

# policy_vm1 : vm1's NetworkPolicy, through the API as an administrator
# would create it: ingress from A only, egress to S only.
policy_vm1() {
    kapi_ok POST \
        /apis/networking.k8s.io/v1/namespaces/default/networkpolicies \
  '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
    "metadata":{"name":"vm1","namespace":"default"},
    "spec":{"podSelector":{"matchLabels":{"vm.kubevirt.io/name":"vm1"}},
            "policyTypes":["Ingress","Egress"],
            "ingress":[{"from":[{"podSelector":{"matchLabels":
                                 {"role":"client-a"}}}]}],
            "egress":[{"to":[{"podSelector":{"matchLabels":
                                {"role":"server"}}}]}]}}' >/dev/null
}

policed_on() {  # NODE : the port's ingress policy flows are on NODE
    bed_dump_flows "$1" table=44 | grep -q "reg15=$keyhex "
}
