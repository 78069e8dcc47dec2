#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for CI and for trying the sbatch templates:
# munged + slurmctld + slurmd, with srun --mpi=pmix and Open MPI. Debian 12, as root, no systemd.
#
#   bash scripts/slurm/local_cluster.sh start    # install what is missing, start, wait until idle
#   bash scripts/slurm/local_cluster.sh stop     # stop exactly the daemons `start` started
#   bash scripts/slurm/local_cluster.sh status   # print the recorded pids and `sinfo`
#   bash scripts/slurm/local_cluster.sh env      # print `export SLURM_CONF=...` for clients
#   bash scripts/slurm/local_cluster.sh install  # only install the packages (exit 3: impossible)
#   bash scripts/slurm/local_cluster.sh reap     # stop clusters whose owner process has died
#
# Everything lives under one directory ($DS_SLURM_DIR, default /var/spool/downstream-slurm):
# slurm.conf, the controller's state, slurmd's spool, the logs, the pid files and our own munged
# socket. Clients (sinfo, srun, sbatch) find the cluster through SLURM_CONF=$DS_SLURM_DIR/slurm.conf
# (`start` prints it), so nothing under /etc/slurm is touched and a system Slurm is left alone.
# The only file written outside that directory is /etc/munge/munge.key, created when missing
# (munged's standard key; it is kept on `stop`: other munge users may share it).
#
# The munged we start listens on its own socket (slurm.conf's AuthInfo names it), so stopping it
# never breaks another munge user on the machine. The ports (DS_SLURM_CTLD_PORT, DS_SLURM_D_PORT,
# default 6817/6818, Slurm's own) can be moved when a system Slurm already listens there.
#
# Tests start their own cluster (DS_SLURM_DIR=/var/spool/downstream-slurm-test.<pid>, their own
# ports) with DS_SLURM_OWNER_PID=<the test's pid>; the test's trap stops it. Should the test be
# killed outright (SIGKILL: no trap runs), `reap` finds the cluster's owner dead and stops it;
# scripts/test.sh runs `reap` when ctest ends.
#
# Idempotent: `start` when our daemons already run and the node answers does nothing; `stop` when
# nothing runs says so and exits 0. `stop` cancels the cluster's jobs, then kills only the pids
# recorded by `start` (after checking that each still runs the program it was recorded for) and
# any slurmstepd left whose environment names this cluster's slurm.conf, with its tasks.
set -euo pipefail

# Debian packages the cluster needs (the Open MPI and PMIx development files are for building
# the MPI side of downstream; openmpi-bin gives mpirun for trying without Slurm).
packages=(munge slurm-wlm openmpi-bin libopenmpi-dev libpmix-dev)

dir=${DS_SLURM_DIR:-/var/spool/downstream-slurm}
ctld_port=${DS_SLURM_CTLD_PORT:-6817}
d_port=${DS_SLURM_D_PORT:-6818}
wait_s=${DS_SLURM_WAIT_S:-60}        # bound on every wait for a daemon (seconds)
conf=$dir/slurm.conf
munge_dir=$dir/munge                 # owned by munge: munged's socket, pid, log and seed
munge_socket=$munge_dir/munge.socket
key=/etc/munge/munge.key
apt_log=${TMPDIR:-/tmp}/downstream-slurm-apt.log
host=$(uname -n)
host=${host%%.*}                     # slurmctld and slurmd compare against the short host name

say() { echo "local_cluster: $*"; }
die() { echo "local_cluster: error: $*" >&2; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (daemons, /etc/munge, apt-get); this is uid $(id -u)"; }

# Exit status 3 (not 1) when the packages cannot be installed, so that tests can tell
# "this machine cannot have a cluster" (skip) from "the cluster is broken" (fail).
install_packages() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt may hold the lock (parallel builds on a shared machine): wait for it.
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends)
  if ! "${apt[@]}" install "${missing[@]}" >"$apt_log" 2>&1; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq >>"$apt_log" 2>&1 || true
    if ! "${apt[@]}" install "${missing[@]}" >>"$apt_log" 2>&1; then
      tail -n 5 "$apt_log" >&2
      echo "local_cluster: error: could not install ${missing[*]} (log: $apt_log)" >&2
      exit 3
    fi
  fi
}

# pid_alive FILE PROGRAM: FILE holds the pid of a live PROGRAM (guards against a recycled pid).
pid_alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1 # read once: a stopping daemon removes its file
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
  # A zombie (exited, not yet reaped by its parent) has ended: state Z after the ") ".
  local stat
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# start_time PID: the process's start time in clock ticks since boot (a pid and its start time
# name one process for good, even after the pid is recycled).
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split the fields: after "state" (1), starttime is field 20
  set -- $stat
  echo "${20}"
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.5 s until it succeeds.
wait_for() {
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit * 2; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "local_cluster: error: $what not reached within ${limit} s" >&2
  return 1
}

show_log() { [ -s "$1" ] && { echo "--- last lines of $1" >&2; tail -n 15 "$1" >&2; }; return 0; }

export SLURM_CONF=$conf

no_jobs() { [ -z "$(squeue -h -o %i 2>/dev/null)" ]; }
node_idle() { [ "$(sinfo -h -n "$host" -o %t 2>/dev/null | head -n 1)" = idle ]; }
munge_ok() { munge -S "$munge_socket" -n </dev/null | unmunge -S "$munge_socket" >/dev/null; }

start_munge() {
  if pid_alive "$munge_dir/munged.pid" munged && munge_ok; then return 0; fi
  id munge >/dev/null 2>&1 || die "user munge does not exist (is the munge package installed?)"
  if [ ! -s "$key" ]; then
    say "creating $key"
    install -d -o munge -g munge -m 0700 /etc/munge
    dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
  fi
  chown munge:munge "$key"
  chmod 0400 "$key"
  # Socket, pid, log and seed all in our own directory (the package's /run/munge, /var/log/munge
  # and /var/lib/munge stay as they are); munged wants it owned by munge, not writable by others,
  # and searchable by all (clients reach the socket through it).
  install -d -o munge -g munge -m 0755 "$munge_dir"
  rm -f "$munge_socket" "$munge_socket.lock" "$munge_dir/munged.pid"
  say "starting munged (user munge, socket $munge_socket)"
  runuser -u munge -- munged --socket="$munge_socket" --key-file="$key" \
    --pid-file="$munge_dir/munged.pid" --log-file="$munge_dir/munged.log" \
    --seed-file="$munge_dir/munged.seed" ||
    { show_log "$munge_dir/munged.log"; die "munged did not start"; }
  wait_for "$wait_s" "munge credential round trip" munge_ok || { show_log "$munge_dir/munged.log"; exit 1; }
}

write_conf() {
  # Each line as CLUSTER.md found working; comments say why where it is not Slurm's default.
  cat >"$conf" <<EOF
# Written by scripts/slurm/local_cluster.sh: a one-node test cluster. Do not edit; rerun start.
ClusterName=downstream-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
# Daemons and jobs run as root: a CI machine has no other users.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# Our own munged's socket, so that this cluster does not depend on (or stop) a system one.
AuthInfo=socket=$munge_socket
# No cgroup v1/v2 delegation in a container without systemd: track processes by parent pid.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# srun without --mpi starts plain processes; the templates ask for --mpi=pmix themselves.
MpiDefault=none
# A node that was down comes back by itself when its slurmd registers with a valid config.
ReturnToService=2
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d
# Per-step scratch, PMIx's client directories (spmix_appdir_<uid>_<job>.<step>) among them: in
# /tmp they would outlive a killed step, and since every fresh cluster counts jobs from 1 again,
# a leftover one makes the next --mpi=pmix step fail to launch ("File exists").
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# Quick turnaround for tests: a dead slurmd is noticed in 30 s, finished jobs leave in 10 s.
SlurmdTimeout=30
MinJobAge=10
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
# OverSubscribe=YES lets srun --overcommit put more tasks than cores (a 2-core CI machine).
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
}

start() {
  need_root
  mkdir -p "$(dirname "$dir")"
  install_packages
  local prog
  for prog in slurmctld slurmd munged sinfo; do
    command -v "$prog" >/dev/null || die "$prog not found after installing ${packages[*]}"
  done

  if pid_alive "$dir/slurmctld.pid" slurmctld && pid_alive "$dir/slurmd.pid" slurmd &&
    pid_alive "$munge_dir/munged.pid" munged && node_idle; then
    say "already running (node $host idle); SLURM_CONF=$conf"
    return 0
  fi
  # Partly running (a crashed daemon, a killed earlier start): stop what is left, start afresh.
  if [ -e "$dir/slurmctld.pid" ] || [ -e "$dir/slurmd.pid" ] || [ -e "$munge_dir/munged.pid" ]; then
    say "cleaning up a partly running cluster first"
    stop_daemons
  fi

  install -d -m 0755 "$dir" "$dir/ctld" "$dir/d" "$dir/log"
  install -d -m 1777 "$dir/tmp"
  if [ -n "${DS_SLURM_OWNER_PID:-}" ]; then
    echo "$DS_SLURM_OWNER_PID $(start_time "$DS_SLURM_OWNER_PID")" >"$dir/owner"
  fi
  start_munge
  write_conf

  say "starting slurmctld (port $ctld_port)"
  slurmctld -f "$conf" || { show_log "$dir/log/slurmctld.log"; die "slurmctld did not start"; }
  wait_for "$wait_s" "slurmctld answering (scontrol ping)" sh -c 'scontrol ping | grep -q UP' ||
    { show_log "$dir/log/slurmctld.log"; exit 1; }

  say "starting slurmd (port $d_port)"
  slurmd -f "$conf" || { show_log "$dir/log/slurmd.log"; die "slurmd did not start"; }
  wait_for "$wait_s" "slurmd pid file" pid_alive "$dir/slurmd.pid" slurmd || { show_log "$dir/log/slurmd.log"; exit 1; }

  if ! wait_for "$wait_s" "node $host idle in sinfo" node_idle; then
    sinfo -N -l >&2 || true
    show_log "$dir/log/slurmctld.log"
    show_log "$dir/log/slurmd.log"
    exit 1
  fi
  say "cluster up: node $host idle, $(nproc) CPUs; pids munged $(cat "$munge_dir/munged.pid")," \
    "slurmctld $(cat "$dir/slurmctld.pid"), slurmd $(cat "$dir/slurmd.pid")"
  say "clients need: export SLURM_CONF=$conf"
}

# kill_recorded FILE PROGRAM: TERM the recorded pid, wait (bounded), then KILL.
kill_recorded() {
  local file=$1 prog=$2 pid i
  if ! pid_alive "$file" "$prog"; then
    [ -e "$file" ] && say "$prog: not running (stale pid file)"
    rm -f "$file"
    return 0
  fi
  pid=$(cat "$file")
  say "stopping $prog (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do
    pid_alive "$file" "$prog" || break
    sleep 0.25
  done
  if pid_alive "$file" "$prog"; then
    say "$prog (pid $pid) ignored TERM for 10 s: KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# /proc is read directly: a minimal Debian has no procps (pgrep).
# procs_named NAME: pids whose command name is NAME.
procs_named() {
  local f
  for f in /proc/[0-9]*/comm; do
    [ "$(cat "$f" 2>/dev/null)" = "$1" ] && { f=${f#/proc/}; echo "${f%/comm}"; }
  done
  return 0
}

# children PID: pids whose parent is PID (field 2 after the ") " of /proc/<pid>/stat).
children() {
  local f stat
  for f in /proc/[0-9]*/stat; do
    stat=$(cat "$f" 2>/dev/null) || continue
    stat=${stat##*) }
    stat=${stat#* }
    [ "${stat%% *}" = "$1" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
  done
  return 0
}

# descendants PID: every process below PID, children before their own children.
descendants() {
  local c
  for c in $(children "$1"); do
    echo "$c"
    descendants "$c"
  done
}

stop_daemons() {
  # slurmd first: it may still be reporting job ends to the controller.
  # Jobs first, while the controller still runs: scancel ends every step's processes the way
  # Slurm ends them at a time limit (and srun/sbatch --wait clients see the end).
  local jobs
  if pid_alive "$dir/slurmctld.pid" slurmctld && [ -s "$conf" ]; then
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      say "cancelling jobs ${jobs//$'\n'/ }"
      # shellcheck disable=SC2086 # one job id per word
      scancel $jobs 2>/dev/null || true
      wait_for 15 "all jobs ended" no_jobs || true
    fi
  fi
  kill_recorded "$dir/slurmd.pid" slurmd
  kill_recorded "$dir/slurmctld.pid" slurmctld
  kill_recorded "$munge_dir/munged.pid" munged
}

stop() {
  need_root
  if [ ! -d "$dir" ]; then
    say "nothing to stop ($dir does not exist)"
    return 0
  fi
  stop_daemons
  # A slurmstepd (one per job step, parent of the step's tasks) outlives slurmd. After scancel
  # none should be left; one that is (the controller was already dead) is ours exactly when its
  # environment, inherited from the slurmd we started, names our slurm.conf. End its tasks
  # (its children) and then it.
  local pid child
  for pid in $(procs_named slurmstepd); do
    if tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -Fxq "SLURM_CONF=$conf"; then
      for child in $(descendants "$pid"); do
        say "stopping leftover job task (pid $child)"
        kill -KILL "$child" 2>/dev/null || true
      done
      say "stopping leftover slurmstepd (pid $pid)"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$dir"
  say "stopped; removed $dir"
}

# Stop every test cluster next to ours ($dir*) whose recorded owner process no longer runs.
reap() {
  # Not root: no test could have started a cluster (they skip), so there is nothing to reap.
  [ "$(id -u)" -eq 0 ] || return 0
  local d pid started
  for d in "$dir"*/; do
    d=${d%/}
    [ -s "$d/owner" ] || continue
    read -r pid started <"$d/owner" || continue
    if [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(start_time "$pid")" = "$started" ]; then continue; fi
    say "reaping $d (its owner, pid $pid, has ended)"
    DS_SLURM_DIR=$d bash "$0" stop
  done
}

status() {
  local f
  for f in "$munge_dir/munged.pid:munged" "$dir/slurmctld.pid:slurmctld" "$dir/slurmd.pid:slurmd"; do
    if pid_alive "${f%%:*}" "${f##*:}"; then echo "${f##*:}: running, pid $(cat "${f%%:*}")"; else echo "${f##*:}: not running"; fi
  done
  if [ -s "$conf" ]; then sinfo 2>&1 || true; fi
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$conf" ;;
  install) need_root; mkdir -p "$(dirname "$dir")"; install_packages ;;
  reap) reap ;;
  *) echo "usage: $0 start|stop|status|env|install|reap" >&2; exit 2 ;;
esac
