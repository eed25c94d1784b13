#!/bin/sh
# The agent's parts in one direction (lib/agent-view.h): agent.c owns the
# loop and the state and is the only file that calls the parts; the parts
# never call one another nor back up.  Fails, naming each call, if
# agent-k8s.c, agent-cni.c, agent-migration.c, agent-ra.c or agent-admit.c
# calls a
# function defined in another of those, in agent.c or in agent-writes.c,
# or includes
# another part's header (agent-view.h, for the core's state, and
# agent-writes.h, for the data type of a write, are theirs to include).
#
# A function is "defined" where its name starts a line followed by '(', as
# the OVS coding style puts it; calls are searched with comments removed.
set -eu
lib=${srcdir:-$(dirname "$0")/../..}/lib
parts="agent-k8s.c agent-cni.c agent-migration.c agent-ra.c agent-admit.c"
all="$parts agent.c agent-writes.c"

strip_comments() {
    perl -0pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' "$1"
}
defined() {
    sed -n 's/^\([a-z_][a-z0-9_]*\)(.*/\1/p' "$1" | sort -u
}

bad=0
for f in $all; do
    [ -f "$lib/$f" ] || { echo "$lib/$f: missing"; exit 1; }
done
for part in $parts; do
    body=$(strip_comments "$lib/$part")
    for other in $all; do
        [ "$other" = "$part" ] && continue
        for fn in $(defined "$lib/$other"); do
            if printf '%s\n' "$body" | grep -q "\\b$fn *("; then
                echo "$part calls $fn(), defined in $other"
                bad=1
            fi
        done
        hdr=${other%.c}.h
        case $hdr in agent.h|agent-writes.h) continue ;; esac
        if printf '%s\n' "$body" | grep -q "#include \"$hdr\""; then
            echo "$part includes $hdr"
            bad=1
        fi
    done
done
[ "$bad" = 0 ] && echo "agent parts: no call between them or up to agent.c"
exit $bad
