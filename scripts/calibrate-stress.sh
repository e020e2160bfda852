#!/usr/bin/env bash
# The calibration of the default stack against the source's stress table,
# as a procedure anyone can repeat: for each stack parameter that sets a
# figure of the table, run `chaosim stress --compare` on the default stack
# with that one parameter changed, and print the figures the parameter moves
# and how many of the 13 rows of the source's table agree.
#
#   scripts/calibrate-stress.sh [CHAOSIM] [SEED]
#
# CHAOSIM defaults to `chaosim` on the PATH (or target/release/chaosim in a
# checkout). Writes only under a temporary folder, removed at the end.
set -euo pipefail

bin=${1:-}
if [ -z "$bin" ]; then
    if command -v chaosim >/dev/null; then bin=chaosim; else bin=target/release/chaosim; fi
fi
seed=${2:-42}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" stack > "$tmp/default.ron"

# variant NAME SED-EXPRESSION: the default stack with one edit.
variant() {
    local name=$1 expr=$2 file="$tmp/variant-$1.ron"
    sed -E "$expr" "$tmp/default.ron" > "$file"
    if cmp -s "$file" "$tmp/default.ron" && [ "$name" != default ]; then
        echo "calibrate-stress: the edit for $name changed nothing (has the stack file changed?)" >&2
        exit 1
    fi
    local out rc=0
    # Exit 1 is a failed verdict (expected here); anything else is an error.
    out=$("$bin" stress --seed "$seed" --stack "$file" --compare) || rc=$?
    if [ "$rc" -gt 1 ]; then
        echo "calibrate-stress: chaosim stress failed on $name (exit $rc)" >&2
        exit "$rc"
    fi
    local verdicts s01 kernels agree
    verdicts=$(echo "$out" | awk '/^[123] +S0/ { if ($1 != w && w != "") printf "| "; w = $1; printf "%s%s ", substr($2, 1, 3), ($NF == "passed" ? "+" : "-") }')
    s01=$(echo "$out" | awk '/^1 +S01/ { print $4 }')
    kernels=$(echo "$out" | awk '/^final kernels/ { print $3 }')
    agree=$(echo "$out" | awk '/rows agree/ { print $1 "/" $3 }')
    printf '%-28s %-40s %6s s %7s %6s\n' "$name" "$verdicts" "$s01" "$kernels" "$agree"
}

printf '%-28s %-40s %8s %7s %6s\n' "variant" "verdicts (wave 1 | 2 | 3)" "S01" "kernels" "agree"
variant default                  's/^//'
# S01's recovery: the restart time of the paused kernel.
variant coding_agent_boot_900ms  '/name: "coding_agent"/,/boot_ns/ s/boot_ns: [0-9_]+/boot_ns: 900_000_000/'
variant coding_agent_boot_300ms  '/name: "coding_agent"/,/boot_ns/ s/boot_ns: [0-9_]+/boot_ns: 300_000_000/'
# S03: how a CPU hog shares the CPU with the kernels.
variant cpu_hog_first            's/cpu_contention: Proportional/cpu_contention: HogFirst/'
# Heartbeat detection: missed heartbeats before a restart.
variant missed_heartbeats_2      's/missed_heartbeats_before_restart: [0-9]+/missed_heartbeats_before_restart: 2/'
variant missed_heartbeats_6      's/missed_heartbeats_before_restart: [0-9]+/missed_heartbeats_before_restart: 6/'
# The restart budget: how many kernels are left at the end.
variant restarts_max_2           's/restarts_max: [0-9]+/restarts_max: 2/'
variant restarts_max_5           's/restarts_max: [0-9]+/restarts_max: 5/'
variant restarts_max_10          's/restarts_max: [0-9]+/restarts_max: 10/'
# The bus against the ACL flood.
variant bus_capacity_20k         's/capacity_msgs_per_s: [0-9_]+/capacity_msgs_per_s: 20_000/'
variant bus_capacity_40k         's/capacity_msgs_per_s: [0-9_]+/capacity_msgs_per_s: 40_000/'
