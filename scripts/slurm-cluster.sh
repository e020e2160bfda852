#!/usr/bin/env bash
# A throw-away one-node Slurm cluster on 127.0.0.1, for tests and CI.
#
#   scripts/slurm-cluster.sh install      install slurmctld slurmd slurm-client munge
#                                         (Debian/Ubuntu, root; no-op when present)
#   scripts/slurm-cluster.sh up DIR       start munged, slurmctld and slurmd with every
#                                         file under DIR (nothing written to /etc);
#                                         prints `export SLURM_CONF=DIR/etc/slurm.conf`.
#                                         Never installs anything: without the
#                                         packages it exits 3 (run `install` first)
#   scripts/slurm-cluster.sh down DIR     stop them by the PIDs recorded in DIR/pids,
#                                         and the job steps this cluster left behind
#
# Exit codes: 0 ok; 3 cannot install or start (not root, no apt, no packages): callers
# treat it as "Slurm unavailable" and skip; anything else is a failure.
#
# Environment: SLURM_CLUSTER_PORT (default 6817; slurmd uses PORT+1);
# SLURM_CLUSTER_SBIN, the system folders searched after PATH for the daemons
# (default /usr/sbin:/sbin; tests set it empty to hide installed packages).
set -euo pipefail

PKGS=(slurmctld slurmd slurm-client munge)
BINS=(slurmctld slurmd sbatch squeue scontrol sinfo munged)
SBIN=${SLURM_CLUSTER_SBIN-/usr/sbin:/sbin}

die() { echo "slurm-cluster: $*" >&2; exit 1; }
unavailable() { echo "slurm-cluster: unavailable: $*" >&2; exit 3; }

# PATH with the system folders (SBIN) appended.
add_sbin() {
    if [ -n "$SBIN" ]; then
        export PATH="$PATH:$SBIN"
    fi
}

have_all() {
    local b
    for b in "${BINS[@]}"; do
        command -v "$b" >/dev/null 2>&1 || return 1
    done
}

# The programs of BINS that are not on PATH, space-separated.
missing() {
    local b out=""
    for b in "${BINS[@]}"; do
        command -v "$b" >/dev/null 2>&1 || out="$out $b"
    done
    echo "${out# }"
}

install() {
    add_sbin
    if have_all; then
        return 0
    fi
    [ "$(id -u)" = 0 ] || unavailable "not root, cannot install ${PKGS[*]}"
    command -v apt-get >/dev/null 2>&1 || unavailable "no apt-get, cannot install ${PKGS[*]}"
    # Keep the packages from starting system services (no systemd here).
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created=1
    fi
    local rc=0
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${PKGS[@]}" >/dev/null 2>&1; then
        apt-get update -q >/dev/null 2>&1 || true
        apt-get install -y -q --no-install-recommends "${PKGS[@]}" >/dev/null || rc=$?
    fi
    if [ "$created" = 1 ]; then
        rm -f "$policy"
    fi
    [ "$rc" = 0 ] || unavailable "apt-get install ${PKGS[*]} failed ($rc)"
    have_all || unavailable "installed, but some of ${BINS[*]} are missing"
}

# Whether PID is alive and is the program NAME (not a zombie, not a reused PID).
alive() {
    local pid=$1 name=$2 stat comm state
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    comm=${stat#*(}
    comm=${comm%%)*}
    state=${stat##*) }
    state=${state%% *}
    [ "$state" != Z ] && [ "$state" != X ] && [ "${comm:0:15}" = "${name:0:15}" ]
}

# Stop PID (program NAME): TERM, wait up to 5 s, then KILL.
stop_pid() {
    local pid=$1 name=$2 i
    alive "$pid" "$name" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        alive "$pid" "$name" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 20); do
        alive "$pid" "$name" || return 0
        sleep 0.1
    done
    echo "slurm-cluster: $name ($pid) survived SIGKILL" >&2
}

up() {
    local dir=$1
    add_sbin
    # Never install from here (a test suite must not change the machine):
    # only `install` does.
    have_all || unavailable "missing $(missing) (packages ${PKGS[*]}): run '$0 install' as root first"
    [ "$(id -u)" = 0 ] || unavailable "not root (slurmd must run as root)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ ! -s "$dir/pids" ] || die "$dir/pids exists: run '$0 down $dir' first"
    mkdir -p "$dir"/{etc,state,spool,log,run,munge,jobs}
    chmod 0711 "$dir/munge"
    local port=${SLURM_CLUSTER_PORT:-6817}
    local host
    host=$(hostname -s)
    : >"$dir/pids"

    # munge: a private key and a private socket.
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 0600 "$dir/munge/munge.key"
    local sock="$dir/munge/munge.socket"
    munged --foreground --force --key-file="$dir/munge/munge.key" --socket="$sock" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge/munged.seed" --origin=127.0.0.1 \
        >>"$dir/log/munged.out" 2>&1 &
    echo "$! munged" >>"$dir/pids"
    local i
    for i in $(seq 50); do
        [ -S "$sock" ] && break
        sleep 0.1
    done
    [ -S "$sock" ] || { tail -5 "$dir/log/munged.log" "$dir/log/munged.out" >&2 || true; die "munged did not start"; }

    local node
    node=$(slurmd -C | grep '^NodeName=' | head -1)
    [ -n "$node" ] || die "slurmd -C printed no NodeName line"
    # The node name must be the short host name; keep the detected hardware.
    node="NodeName=$host ${node#NodeName=* }"
    cat >"$dir/etc/slurm.conf" <<EOF
# Generated by scripts/slurm-cluster.sh: a one-node cluster on 127.0.0.1.
ClusterName=chaosim-ci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
DependencyParameters=kill_invalid_depend
ReturnToService=2
MinJobAge=600
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$dir/etc/slurm.conf"
    # SLURM_CONF in the daemons' environment also marks their job steps as
    # this cluster's (see `down`).
    slurmctld -D -i -f "$SLURM_CONF" >>"$dir/log/slurmctld.out" 2>&1 &
    echo "$! slurmctld" >>"$dir/pids"
    slurmd -D -f "$SLURM_CONF" >>"$dir/log/slurmd.out" 2>&1 &
    echo "$! slurmd" >>"$dir/pids"

    local state=""
    for i in $(seq 300); do
        state=$(sinfo -h -o %t 2>/dev/null | head -1 || true)
        [ "$state" = idle ] && break
        while read -r pid name; do
            alive "$pid" "$name" || { tail -20 "$dir/log/$name.log" "$dir/log/$name.out" >&2 2>/dev/null || true; die "$name exited during start-up"; }
        done <"$dir/pids"
        sleep 0.1
    done
    [ "$state" = idle ] || { tail -20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true; die "node not idle after 30 s (state '$state')"; }
    echo "export SLURM_CONF=$SLURM_CONF"
}

down() {
    local dir=$1
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    local conf="$dir/etc/slurm.conf"
    # Daemons in reverse start order: slurmd, slurmctld, munged.
    if [ -f "$dir/pids" ]; then
        local lines
        mapfile -t lines < <(tac "$dir/pids")
        local l
        for l in "${lines[@]}"; do
            # shellcheck disable=SC2086
            stop_pid $l
        done
    fi
    # Job steps and job processes this cluster left behind (they ignore
    # SIGTERM when slurmd is gone): slurmstepd, or a process of a job
    # (SLURM_JOB_ID set), whose environment names this cluster's SLURM_CONF.
    local p pid comm env
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" != $$ ] || continue
        env=$({ tr '\0' '\n' <"$p/environ"; } 2>/dev/null) || continue
        grep -qxF "SLURM_CONF=$conf" <<<"$env" || continue
        comm=$({ cat "$p/comm"; } 2>/dev/null) || continue
        if [ "$comm" = slurmstepd ] || grep -q '^SLURM_JOB_ID=' <<<"$env"; then
            stop_pid "$pid" "$comm"
        fi
    done
    rm -f "$dir/pids"
}

case "${1:-}" in
install) install ;;
up) [ -n "${2:-}" ] || die "usage: $0 up DIR"; up "$2" ;;
down) [ -n "${2:-}" ] || die "usage: $0 down DIR"; down "$2" ;;
*) echo "usage: $0 install | up DIR | down DIR" >&2; exit 2 ;;
esac
