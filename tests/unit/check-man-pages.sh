#!/bin/sh
# The manual pages (man/*.8, generated) against the programs: each renders
# with no groff warning; livebind-agent.8 names every long option that
# "livebind-agent --help" lists and every control command lib/agent.c and
# ovn-agent/main.c register; livebind-ctl.8 names those commands too; and
# livebind-install-cni.8 every option of the script.  Fails, naming each
# one missing.
set -eu
src=${srcdir:-$(dirname "$0")/../..}
build=${top_builddir:-.}
man=$build/man
agent=$build/ovn-agent/livebind-agent
bad=0

for page in livebind-agent livebind-ctl livebind-install-cni; do
    f=$man/$page.8
    [ -f "$f" ] || { echo "$f: missing (make $f)"; exit 1; }
    if command -v groff >/dev/null 2>&1; then
        warnings=$(groff -man -ww -z "$f" 2>&1) || true
        if [ -n "$warnings" ]; then
            echo "$f: groff warns: $warnings"
            bad=1
        fi
    fi
done

# A name as a man page sets it: '-' escaped as '\-'.
in_page() {  # PAGE NAME
    name=$(printf '%s' "$2" | sed 's/-/\\\\-/g')
    grep -q -- "$name" "$man/$1.8"
}

# The agent's long options, from its --help (daemon and logging options
# excepted: the page refers to ovs-vswitchd(8) for them, by name).
options=$("$agent" --help | sed -n 's/^  \(--[a-z][a-z0-9-]*\).*/\1/p' |
          sort -u)
[ -n "$options" ] || { echo "no options in livebind-agent --help"; exit 1; }
for o in $options; do
    in_page livebind-agent "$o" || {
        echo "livebind-agent.8 lacks $o"; bad=1; }
done

# The control commands, as registered.
commands=$(cat "$src/lib/agent.c" "$src/ovn-agent/main.c" |
           sed -n 's/.*unixctl_command_register("\([^"]*\)".*/\1/p' |
           sort -u)
[ -n "$commands" ] || { echo "no control commands found"; exit 1; }
for c in $commands memory/show; do
    for page in livebind-agent livebind-ctl; do
        in_page "$page" "$c" || { echo "$page.8 lacks $c"; bad=1; }
    done
done

# livebind-install-cni's options.
for o in $(sed -n 's/^ *\(--[a-z-]*\)=\*).*/\1/p' \
               "$src/utilities/livebind-install-cni.in"); do
    in_page livebind-install-cni "$o" || {
        echo "livebind-install-cni.8 lacks $o"; bad=1; }
done

[ "$bad" = 0 ] && echo "man pages: every option and command, no warning"
exit "$bad"
