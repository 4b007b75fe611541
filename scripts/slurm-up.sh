#!/usr/bin/env bash
# Installs and starts a one-node SLURM cluster on this machine, idempotently,
# for the SLURM executor's tests and by hand (as root, Debian bookworm):
#   - Debian's slurm-wlm 22.05 and munge (apt-get, only when missing);
#   - munged, slurmctld and slurmd with a minimal configuration: no
#     accounting database (so `sacct` is unavailable, as on many clusters'
#     login nodes), one node named `localhost` with this machine's CPUs and
#     memory, and 2 GPUs declared as a generic resource on fake device files
#     (the scheduling is real; there is no GPU behind them).
# Re-running it when the cluster answers `sinfo` does nothing.
#
# Usage: scripts/slurm-up.sh        prints `slurm: ready` when jobs can run
#        scripts/slurm-up.sh --down stops the daemons
set -euo pipefail

conf_dir=/etc/slurm
state=/var/lib/pipe-slurm
log() { printf '==> %s\n' "$*" >&2; }

if [ "${1:-}" = "--down" ]; then
  pkill -x slurmd || true
  pkill -x slurmctld || true
  for _ in $(seq 1 50); do
    pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || exit 0
    sleep 0.2
  done
  echo "error: the SLURM daemons did not stop" >&2
  exit 3
fi

if [ "$(id -u)" != 0 ]; then
  echo "error: scripts/slurm-up.sh installs and starts system daemons; run it as root" >&2
  exit 3
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge with apt-get (about 1 minute)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

if timeout 5 sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
  echo "slurm: ready"
  exit 0
fi

mkdir -p "$conf_dir" "$state"/{ctld,d} /var/log/slurm /run/munge
# munge: one key for the controller and the node.
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged

# Fake GPU device files: gres.conf needs one character device per GPU; these
# are copies of /dev/null (major 1, minor 3), so nothing can be harmed.
for i in 0 1; do
  [ -c "$state/nvidia$i" ] || { rm -f "$state/nvidia$i"; mknod "$state/nvidia$i" c 1 3; }
done

cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024))
cat >"$conf_dir/slurm.conf" <<CONF
ClusterName=pipe
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
GresTypes=gpu
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
MinJobAge=300
KillWait=5
OverTimeLimit=0
InactiveLimit=0
NodeName=localhost CPUs=$cpus RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
cat >"$conf_dir/gres.conf" <<CONF
NodeName=localhost Name=gpu File=$state/nvidia[0-1]
CONF
rm -f "$conf_dir/cgroup.conf"

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 1 60); do
  if timeout 5 sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
    echo "slurm: ready"
    exit 0
  fi
  scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
  sleep 1
done
echo "error: SLURM did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
tail -5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 3
