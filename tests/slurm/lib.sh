# Shared by the tests/slurm/test_*.sh scripts (sourced; not a test itself): arguments
# <downstream> <source dir> <compare_checkpoints>; starts this test's own one-node cluster
# (scripts/slurm/local_cluster.sh) and stops it on every way out; exits 77 (skipped) when not root
# or when the Slurm/MPI packages cannot be installed.
set -u
bin=$(realpath "$1") # the test changes directory
src=$(realpath "$2")
compare=$(realpath "$3")
cluster_sh=$src/scripts/slurm/local_cluster.sh

if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root (starts munged, slurmctld and slurmd; writes /etc/munge); uid is $(id -u)"
  exit 77
fi

tmp=$(mktemp -d)
export DS_SLURM_DIR=/var/spool/downstream-slurm-test.$$
# Ports of our own, away from a cluster on Slurm's defaults (6817/6818) and from other tests.
export DS_SLURM_CTLD_PORT=$((17000 + ($$ % 4000) * 2))
export DS_SLURM_D_PORT=$((DS_SLURM_CTLD_PORT + 1))
export DS_SLURM_OWNER_PID=$$
export SLURM_CONF=$DS_SLURM_DIR/slurm.conf
# Long commands run in the background while the shell waits for them (run_bg), so that a TERM
# (ctest's timeout, Ctrl-C) runs the trap at once instead of after the command ends.
bg_pid=
run_bg() {
  "$@" &
  bg_pid=$!
  wait "$bg_pid"
  local rc=$?
  bg_pid=
  return $rc
}
cleanup() {
  [ -z "$bg_pid" ] || kill -TERM "$bg_pid" 2>/dev/null
  bash "$cluster_sh" stop >"$tmp/stop.log" 2>&1 || { echo "local_cluster.sh stop failed:"; cat "$tmp/stop.log"; }
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL: $1"; fail=1; fi; }

bash "$cluster_sh" install
rc=$?
if [ $rc -eq 3 ]; then
  echo "skipped: the Slurm/MPI packages are missing and could not be installed (no network or apt?)"
  exit 77
fi
[ $rc -eq 0 ] || { echo "FAIL: installing the packages (exit $rc)"; exit 1; }
if ! run_bg timeout 180 bash "$cluster_sh" start; then
  echo "FAIL: the local cluster did not start"
  exit 1
fi
echo "ok   cluster up: $(sinfo -h -o '%n %t %c CPUs')"

