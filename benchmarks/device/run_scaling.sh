#!/usr/bin/env bash
# The MPI scaling benchmark on a bare many-core machine: about 4 minutes on 16 cores,
# at most 6.5 (each stage has a time limit).
#
# Run from the repository root, with the mpich and mpi4py wheels in .whl/ (Python
# 3.12, manylinux x86-64).  They go in with `pip install --prefix`, not --target:
# --target drops the mpich wheel's lib/ (libmpi.so.12), and mpi4py would then
# load whatever libmpi the machine has (an Open MPI that refuses root) under
# mpich's mpiexec, every rank a singleton.  Results go to $OUT: log.txt, and per
# stage its JSON and its stderr (each configuration's raw times as it finishes).
#
# Stages, most important first, each under its own time limit:
#   1. the table: weak (2000, 8000 walkers per rank), the ceiling of independent
#      processes at the same sizes, strong (16000 and 64000 walkers), ranks 1..16
#   2. the per-phase profile of the step on 16 ranks (2000 and 4000 walkers per rank)
#   3. 2000 walkers per rank and 64000 in all again, on 1, 8 and 16 ranks (processes)
#      each pinned to its own CPU
#
# Local test (overrides): PYTHON=.venv/bin/python SCALING_MPIEXEC=.venv/bin/mpiexec
#   SCALING_RANKS="1 2" SCALING_PROFILE_RANKS=2 SCALING_BOUND_RANKS="1 2" SCALING_SIZES="--walkers-per-rank 200 --total-walkers 800"
#   SCALING_WORK=4000 OUT=/tmp/out bash benchmarks/device/run_scaling.sh
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/scaling-out}
PY=${PYTHON:-python3}
RANKS=${SCALING_RANKS:-1 2 4 8 16}
PROFILE_RANKS=${SCALING_PROFILE_RANKS:-16}
BOUND_RANKS=${SCALING_BOUND_RANKS:-1 8 16}
SIZES=${SCALING_SIZES:---walkers-per-rank 2000 8000 --total-walkers 16000 64000}
WORK=${SCALING_WORK:-400000}
PREFIX=${SCALING_PREFIX:-/tmp/mpi}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1  # the device returns at most 8 files: log + 2 per stage
start=$SECONDS

echo "== machine"
uname -a
echo "cpus: $(nproc) usable, $(getconf _NPROCESSORS_ONLN) online"  # before OMP_NUM_THREADS=1
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
grep -m1 "model name" /proc/cpuinfo
lscpu 2>/dev/null | grep -E "^(Thread|Core|Socket|NUMA node\(s\))" || true
"$PY" -V
"$PY" -c 'import numpy; print("numpy", numpy.__version__)'
"$PY" -c 'import scipy, threadpoolctl; print("scipy", scipy.__version__)'
"$PY" -c 'import numba; print("numba", numba.__version__)' 2>&1 | tail -1
"$PY" -c 'import numpy; numpy.show_config()' 2>/dev/null | grep -A3 -i '"blas"' | head -4

if [ -n "${SCALING_MPIEXEC:-}" ]; then
    MPIEXEC=$SCALING_MPIEXEC
else
    echo "== installing the mpich and mpi4py wheels into $PREFIX"
    ls .whl/mpich-*.whl .whl/mpi4py-*.whl || { echo "no wheels in .whl/: carry .whl"; exit 1; }
    if ! PIP_BREAK_SYSTEM_PACKAGES=1 "$PY" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --prefix "$PREFIX" .whl/mpich-*.whl .whl/mpi4py-*.whl; then
        echo "pip failed: unpacking the wheels by hand"  # into the layout pip makes
        "$PY" - "$PREFIX" .whl/mpich-*.whl .whl/mpi4py-*.whl <<'PYTHON' || exit 1
import os, sys, sysconfig, zipfile
prefix, wheels = sys.argv[1], sys.argv[2:]
site = sysconfig.get_path("purelib", vars={"base": prefix, "platbase": prefix})
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        for name in (n for n in z.namelist() if not n.endswith("/")):
            rest = name.partition(".data/data/")[2]
            target = os.path.join(prefix, rest) if rest else os.path.join(site, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(name) as src, open(target, "wb") as dst:
                dst.write(src.read())
            if rest.startswith("bin/"):
                os.chmod(target, 0o755)
PYTHON
    fi
    site=$(echo "$PREFIX"/lib/python3*/site-packages)
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    export MPI4PY_LIBMPI=$PREFIX/lib/libmpi.so.12  # never the machine's own libmpi
    export LD_LIBRARY_PATH="$PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    MPIEXEC=$PREFIX/bin/mpiexec
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

echo "== MPI smoke test"
smoke='from mpi4py import MPI; c = MPI.COMM_WORLD
assert c.allreduce(1) == c.size == 2, "ranks do not see each other"
if c.rank == 0: print("mpi4py", MPI.Get_library_version().splitlines()[0])'
LAUNCHER=""
for candidate in "$MPIEXEC -launcher fork" "$MPIEXEC -launcher fork -hosts localhost" "$MPIEXEC"; do
    if timeout 60 $candidate -n 2 "$PY" -c "$smoke"; then LAUNCHER=$candidate; break; fi
done
[ -n "$LAUNCHER" ] || { echo "no working mpiexec"; exit 1; }
echo "launcher: $LAUNCHER; setup took $((SECONDS - start)) s"

bench() {  # name, limit in seconds, arguments of mpi_scaling.py
    local name=$1 limit=$2
    shift 2
    echo "== $name (at most $limit s; $((SECONDS - start)) s so far)"
    timeout "$limit" "$PY" benchmarks/mpi_scaling.py --launcher "$LAUNCHER" --work "$WORK" \
        --json "$OUT/$name.json" "$@" 2>"$OUT/$name.err"
    local rc=$?
    [ "$rc" = 0 ] || { echo "$name: exit $rc"; tail -20 "$OUT/$name.err"; }
}

# shellcheck disable=SC2086  # RANKS and SIZES are word lists
bench scaling 240 --ranks $RANKS $SIZES
bench profile 40 --profile --ranks $PROFILE_RANKS --walkers-per-rank 2000 4000
bench scaling_bound 75 --bind --ranks $BOUND_RANKS --walkers-per-rank 2000 --total-walkers 64000
echo "== done in $((SECONDS - start)) s; results in $OUT"
