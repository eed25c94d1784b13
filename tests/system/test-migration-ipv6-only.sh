#!/bin/bash
# test-migration-ipv6.sh on an IPv6-only switch.
LB_V6_ONLY=1 exec "$(dirname "$0")/test-migration-ipv6.sh"
