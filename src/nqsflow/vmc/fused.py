"""The fused kernel path of sampling, optimisation and production: numba loops over walkers.

:func:`build_kernels` looks at a run's Hamiltonian, ansatz and sampler and,
where every part has a kernel in :mod:`nqsflow.vmc.kernels`, returns a
:class:`FusedKernels` that the driver calls instead of the numpy sampler, local
energy, parameter derivatives and walker refresh; otherwise None, and the numpy
path (the reference, and the only path of the backflow determinant) runs.
The kernels draw the same random numbers as the numpy samplers, in the same
order, so both paths run the same chains up to round-off
(tests/test_kernels.py); the kernel path is deterministic, so restarts stay bit
for bit.

``NQSFLOW_KERNELS=0`` in the environment turns the kernels off.  numba is
imported only here, on first use, so ``import nqsflow.vmc`` stays light; the
compiled code is cached on disk (numba's ``cache=True``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from nqsflow.vmc.gaussian import Gaussian
from nqsflow.vmc.jastrow import HardSphereJastrow, PadeJastrow
from nqsflow.vmc.neural_jastrow import NeuralJastrow
from nqsflow.vmc.orbitals import shell_quanta
from nqsflow.vmc.rbm import RBM
from nqsflow.vmc.samplers import Langevin, Metropolis
from nqsflow.vmc.slater import Slater

# kernels.GAUSSIAN, ...
KINDS = {Gaussian: 0, RBM: 1, PadeJastrow: 2, HardSphereJastrow: 3, Slater: 4, NeuralJastrow: 5}


def _factor_consts(factor, p: np.ndarray, particles: int, dim: int) -> np.ndarray:
    """Everything a factor's kernel needs at parameters ``p`` (see :mod:`kernels`)."""
    if isinstance(factor, Gaussian):
        return np.concatenate([factor._scale(p, dim), [factor.omega], p])
    if isinstance(factor, RBM):
        w = p[factor.visible + factor.hidden :].reshape(factor.visible, factor.hidden)
        return np.concatenate([[factor.sigma2, factor.hidden], p, np.sum(w * w, axis=0)])
    if isinstance(factor, PadeJastrow):
        n_pairs = particles * (particles - 1) // 2
        cusp, beta = factor._coefficients(p, None)
        out = np.empty(1 + 3 * n_pairs)  # filled by slices: broadcast_to costs 5 us a call
        out[0] = n_pairs
        out[1 : 1 + n_pairs] = cusp
        out[1 + n_pairs : 1 + 2 * n_pairs] = beta
        out[1 + 2 * n_pairs :] = 0.0 if factor._channel is None else factor._channel
        return out
    if isinstance(factor, Slater):  # see kernels.slater
        alpha, orbitals = p[0], factor.orbitals
        head = [alpha * factor.omega, np.sqrt(alpha * factor.omega), alpha, factor.omega,
                float(factor.envelope), *factor.spins, orbitals.top, orbitals.count]
        return np.concatenate([head, orbitals.quanta.ravel()]).astype(float)
    if isinstance(factor, NeuralJastrow):  # see kernels' neural Jastrow section
        geometry = factor._position  # pairs in geometry order
        rho = factor.rho.widths
        first = p[factor._bounds[2] :][: rho[0] * rho[1]].reshape(rho[0], rho[1])
        return np.concatenate([_neural_layout(factor, particles, dim)[0], factor.phi.widths,
                               rho, factor._channel[geometry], factor._weight[geometry],
                               first.T.ravel(), p])
    return np.array([factor.radius])  # HardSphereJastrow


def supported(hamiltonian, ansatz, sampler) -> bool:
    """True when every factor, the sampler and the Hamiltonian have kernels."""
    return (
        all(type(f) in KINDS for f in ansatz.factors)
        and type(sampler) in (Metropolis, Langevin)
        and hamiltonian.interaction in ("none", "coulomb", "hard_sphere")
    )


def build_kernels(hamiltonian, ansatz, sampler) -> FusedKernels | None:
    """The kernel path of this run, or None where a part has no kernel, numba is missing
    or ``NQSFLOW_KERNELS=0``."""
    if os.environ.get("NQSFLOW_KERNELS", "1") == "0":
        return None
    if not supported(hamiltonian, ansatz, sampler):
        return None
    try:
        import numba  # noqa: F401
    except ImportError:  # numba missing: the numpy path is complete on its own
        return None
    return FusedKernels(hamiltonian, ansatz, sampler)


# the generated module of one product of factors and one kind of move: each kind's calls
# on its consts {cf}; {h}: its size, {b}: the offset of its parameters, {cb}: of its cache.
# "particle": particle k before or after its move (``before``; a factor without a cache
# ignores it); "cache" and "accept": a factor that carries a cache through a sweep
_CALLS = {
    0: {"evaluate": "gaussian({cf}, x, grad, N, D)",
        "particle": "gaussian_particle({cf}, x, k, gk, N, D)",
        "params": "gaussian_params({cf}, x, out, t, w, {b}, N, D, {h})"},
    1: {"evaluate": "rbm({cf}, x, grad, work, N, D, {h})",
        "particle": "rbm_particle({cf}, x, k, gk, work, N, D, {h})",
        "params": "rbm_params({cf}, x, out, t, w, {b}, work, N, D, {h})"},
    2: {"evaluate": "pairs(2, {cf}, x, grad, N, D)",
        "particle": "pairs_particle(2, {cf}, x, k, gk, N, D)",
        "params": "pade_params({cf}, x, out, t, w, {b}, N, D, {h})"},
    3: {"evaluate": "pairs(3, {cf}, x, grad, N, D)",
        "particle": "pairs_particle(3, {cf}, x, k, gk, N, D)"},
    4: {"evaluate": "slater({cf}, x, grad, work, N, D, False)",
        "particle": "slater_move({cf}, x, k, gk, work, cache, w, {cb}, N, D, before)",
        "params": "slater_params({cf}, x, out, t, w, {b}, work, N, D)",
        "cache": "slater_cache({cf}, x, cache, w, {cb}, work, N, D)",
        "accept": "slater_accept({cf}, k, cache, w, {cb}, work, N, D)"},
    5: {"evaluate": "neural({cf}, x, grad, work, N, D)",
        "particle": "neural_move({cf}, x, k, gk, work, cache, w, {cb}, N, D, before)",
        "params": "neural_params({cf}, x, out, t, w, {b}, work, N, D)",
        "cache": "neural_cache({cf}, x, cache, w, {cb}, work, N, D)",
        "accept": "neural_accept({cf}, k, cache, w, {cb}, N)"},
}


def _kind(factor, particles: int, dim: int) -> tuple[int, int, int, int, int]:
    """A factor's kernel kind, its size (the hidden units of an RBM, else its parameter
    count), its parameter count, the scratch its kernels need and the cache it
    carries per walker through a sweep of single-particle moves."""
    kind, size, work, cache = KINDS[type(factor)], factor.n_params, 1, 0
    if isinstance(factor, RBM):
        size = work = factor.hidden
    elif isinstance(factor, Slater):
        # matrices and Hermite tables (kernels.slater), at most every particle in one
        # channel; the inverses of both channels, a proposal's row and its ratio
        m, top = particles, int(shell_quanta(dim, particles).max())
        work = 3 * m * m + m * m * dim + 3 * dim * (top + 1)
        cache = particles * particles + particles + 1
    elif isinstance(factor, NeuralJastrow):
        _, work, cache = _neural_layout(factor, particles, dim)
    return kind, size, factor.n_params, work, cache


def _neural_layout(factor, n: int, d: int) -> tuple[list[float], int, int]:
    """The neural Jastrow's consts header, scratch size and cache size per walker.

    The header (33 numbers) holds 1/L^2, K, C, Ls, Lr and the offsets of every block
    that the kernels read (kernels._neural_header, _neural_work, _neural_cache):
    in the consts, the widths, pairs' channels and weights, rho's first weights
    transposed and the parameters of phi, psi and rho; in work, the buffers of
    the passes; in a walker's cache, phi, psi, their slopes, S, ln J, g and a
    proposal's rows of the same."""
    widths, rho = factor.phi.widths, factor.rho.widths
    k, f, pairs = factor.features, rho[0], n * (n - 1) // 2
    ws = 33
    wr = ws + len(widths)
    pc = wr + len(rho)
    pw = pc + pairs
    wt = pw + pairs
    phi = wt + f * rho[1]
    psi = phi + factor.phi.n_params
    consts = [ws, wr, pc, pw, wt, phi, psi, psi + factor.psi.n_params]
    wm, wrm, hidden = max(widths), max(rho), sum(rho[1:])
    keep = 6 * wm
    dl = keep + 2 * sum(widths)
    so = dl + 2 * wm
    racts = so + 3 * f  # after S, its Laplacian and g
    dr = racts + 2 * hidden
    cv = dr + hidden
    uo = cv + 2 * (n * d + 1) * wrm
    work = [keep, dl, so, so + f, so + 2 * f, racts, dr, cv, uo, wm, wrm]
    s = 2 * n * k + 2 * pairs * k  # after phi, phi', psi, psi'
    pphi = s + 2 * f + 1
    ppsi = pphi + 2 * k
    ps = ppsi + 2 * (n - 1) * k
    cache = [n * k, 2 * n * k, 2 * n * k + pairs * k, s, pphi, pphi + k, ppsi,
             ppsi + (n - 1) * k, ps]
    header = [factor.inv_l2, k, len(factor._rows), len(widths), len(rho) - 1,
              *consts, *work, *cache]
    return header, uo + n * d * f, ps + 2 * f + 1


_HEADER = """\"\"\"Generated by nqsflow.vmc.fused from nqsflow.vmc.kernels: {what}.\"\"\"

import math

import numpy as np

from nqsflow.vmc.kernels import (
    _copy, _count, _sq, _velocity_factor, gaussian, gaussian_params, gaussian_particle, inline,
    jit, local_energy, pade_params, pairs, pairs_particle, rbm, rbm_params, rbm_particle,
    neural, neural_accept, neural_cache, neural_move, neural_params, slater, slater_accept,
    slater_cache, slater_move, slater_params,
)

SINGLE, LANGEVIN = {single}, {langevin}
N, D = {n}, {d}
WORK, CACHE = {work}, {cache_size}


@inline
def evaluate(c, o, x, grad, work):
    for i in range(N):
        for a in range(D):
            grad[i, a] = 0.0
{evaluate}
    return {logs}, {laps}


@inline
def particle(c, o, x, k, gk, work, cache, w, before):
    for a in range(D):
        gk[a] = 0.0
{particle}
    return {parts}


@inline
def init_cache(c, o, x, cache, w, work):
{cache}
    return


@inline
def accept(c, o, k, cache, w, work):
{accept}
    return


@inline
def derivatives(c, o, x, out, t, w, work):
{derivatives}
    return


@jit
"""
_MODULES: dict[tuple, Any] = {}


def _cache_dir() -> Path:
    root = os.environ.get("NQSFLOW_KERNEL_CACHE")
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(base) / "nqsflow" / "kernels"
    return Path(root)


def generated_kernels(
    kinds: tuple[tuple[int, int, int, int, int], ...], shape: tuple[int, int], single: bool,
    langevin: bool,
):
    """The compiled module of a product of factors and a kind of move.

    ``kinds``: each factor's kernel, size, parameters, scratch and cache (:func:`_kind`);
    ``shape``: (particles, dimensions).  Sizes are constants of the module, so
    that the compiler unrolls the short loops over particles and axes.

    Its source is written once to the kernel cache (``NQSFLOW_KERNEL_CACHE``, else
    ~/.cache/nqsflow/kernels), named by the kinds, the move and a hash of
    :mod:`kernels`, so that numba's cache keeps the compiled code across processes.
    """
    key = (kinds, shape, single, langevin)
    if key in _MODULES:  # the source and its hash cost milliseconds: once per process
        return _MODULES[key]
    from nqsflow.vmc import kernels

    lines, parts, derivs, caches, accepts = [], [], [], [], []
    base = cache_base = 0
    for f, (kind, size, n_params, _, cache_size) in enumerate(kinds):
        fields = {"cf": f"c[o[{f}] : o[{f + 1}]]", "h": size, "b": base, "cb": cache_base}
        calls = {name: call.format(**fields) for name, call in _CALLS[kind].items()}
        lines.append(f"    l{f}, p{f} = {calls['evaluate']}")
        parts.append(f"    q{f} = {calls['particle']}")
        derivs += [f"    {calls['params']}"] if "params" in calls else []
        caches += [f"    {calls['cache']}"] if "cache" in calls else []
        accepts += [f"    {calls['accept']}"] if "accept" in calls else []
        base += n_params
        cache_base += cache_size
    names = "-".join(f"{k[0]}.{k[1]}" for k in kinds) + f"-n{shape[0]}d{shape[1]}"
    what = f"factor kinds {names}, single={single}, langevin={langevin}"
    source = _HEADER.format(
        what=what, n=shape[0], d=shape[1], single=single, langevin=langevin,
        work=max(k[3] for k in kinds),
        evaluate="\n".join(lines), particle="\n".join(parts),
        logs=" + ".join(f"l{f}" for f in range(len(kinds))),
        laps=" + ".join(f"p{f}" for f in range(len(kinds))),
        parts=" + ".join(f"q{f}" for f in range(len(kinds))),
        derivatives="\n".join(derivs) or "    pass",
        cache="\n".join(caches) or "    pass", accept="\n".join(accepts) or "    pass",
        cache_size=max(cache_base, 1),
    )
    for template in (kernels.run_block, kernels.evaluate_batch, kernels.local_terms_batch):
        source += inspect.getsource(template) + "\n\n@jit\n"
    source = source.removesuffix("\n\n@jit\n") + "\n"
    digest = hashlib.sha256((source + inspect.getsource(kernels)).encode()).hexdigest()[:12]
    tag = names.replace("-", "_").replace(".", "h")
    name = f"nqsflow_kernel_{tag}_{int(single)}{int(langevin)}"
    name += f"_{digest}"
    path = _cache_dir() / f"{name}.py"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as fh:
            fh.write(source)
        os.replace(fh.name, path)  # atomic: concurrent ranks write the same text
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # numba's cache finds the module's globals by its name
    spec.loader.exec_module(module)
    _MODULES[key] = module
    return module


class FusedKernels:
    """Moves and local energies of one run through the compiled kernels."""

    def __init__(self, hamiltonian, ansatz, sampler):
        self.hamiltonian, self.ansatz, self.sampler = hamiltonian, ansatz, sampler
        self.kinds = tuple(_kind(f, *hamiltonian.shape) for f in ansatz.factors)
        coulomb = hamiltonian.interaction == "coulomb" and hamiltonian.particles > 1
        self.ham = np.concatenate([[float(coulomb)], hamiltonian._omega2])
        self.langevin = isinstance(sampler, Langevin)
        self.single = sampler.moves == "single"
        self.limit = sampler.drift_limit if self.langevin else 0.0
        self._program = None  # (params, program(params)) of the last call
        self.n_params = sum(f.n_params for f in ansatz.factors)

    def module(self):
        """The generated kernels of this run."""
        return generated_kernels(self.kinds, self.hamiltonian.shape, self.single, self.langevin)

    def program(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The offsets and packed constants of the ansatz at ``params``."""
        last = self._program
        if last is not None and np.array_equal(last[0], params):
            return last[1]  # production's chunks and evaluate share one parameter vector
        n, d = self.hamiltonian.shape
        parts = [
            _factor_consts(f, params[s], n, d)
            for f, s in zip(self.ansatz.factors, self.ansatz._slices, strict=True)
        ]
        if last is None:
            offsets = np.cumsum([0] + [c.size for c in parts]).astype(np.int64)
        else:  # the sizes follow from the factors' shapes, never from the parameters
            offsets = last[1][0]
        packed = offsets, np.concatenate(parts)
        self._program = (np.array(params, dtype=float), packed)
        return packed

    def evaluate(self, params, x):
        """ln psi (W,), gradient (W, N, d), Laplacian (W,) and E_L (W,) at ``x`` (W, N, d)."""
        offsets, consts = self.program(params)
        x = np.ascontiguousarray(x, dtype=float)
        return self.module().evaluate_batch(consts, offsets, self.ham, x)

    def local_terms(self, params, x):
        """E_L (W,) and O = d ln psi / d p (W, P) at ``x`` (W, N, d) (an SR step takes
        them inside its moves: :meth:`sample_local_terms`)."""
        offsets, consts = self.program(params)
        x = np.ascontiguousarray(x, dtype=float)
        energy = np.empty(x.shape[0])
        o = np.empty((1, x.shape[0], self.n_params))
        self.module().local_terms_batch(consts, offsets, self.ham, x, energy, o)
        return energy, o[0]

    @staticmethod
    def refresh(walkers):
        """The walkers after the parameters changed: their ln psi, drift and caches
        are dropped, and the next kernel call computes them before it moves."""
        return replace(walkers, log_psi=None, drift=None, cache=None)

    def _run(self, state, rounds: int, thin: int, measure: bool, keep: bool, densities=None,
             derive: bool = False):
        # advance every block of walkers through `rounds` rounds of `thin` moves
        walkers = state.walkers
        x = np.array(walkers.positions, dtype=float)  # the old state's array stays as it was
        w, n, d = x.shape
        single = self.single
        # no ln psi: the parameters changed since the walkers' last move, and the
        # kernel computes it (and the drift) before it moves them
        fresh = walkers.log_psi is None and not single
        log_psi = np.zeros(w) if fresh or single else np.array(walkers.log_psi, dtype=float)
        grad = (0.5 * walkers.drift if walkers.drift is not None and not single and not fresh
                else np.zeros_like(x))
        grad = np.ascontiguousarray(grad)
        energies = np.empty((rounds, w if measure else 0))
        derivs = np.empty((rounds if derive else 0, w, self.n_params))
        positions = np.empty((rounds if keep else 0, w, n, d))
        if densities is not None:
            hists = (densities.radial, densities.radial_edges, densities.pair, densities.pair_edges)
        else:
            hists = (np.zeros(0), np.zeros(1), np.zeros(0), np.zeros(1))
        offsets, consts = self.program(state.params)
        kernels = self.module()
        generators, size = state.rng.generators, state.rng.block_size
        accepted = 0
        for g, rng in enumerate(generators):
            block = slice(g * size, (g + 1) * size)
            e, o, pos = energies, derivs, positions
            if len(generators) > 1:  # each block's own rows, copied in below
                e = np.empty((rounds, size if measure else 0))
                o = np.empty((derivs.shape[0], size, self.n_params))
                pos = np.empty((positions.shape[0], size, n, d))
            accepted += kernels.run_block(
                rng, consts, offsets, self.ham, float(walkers.step), self.limit, int(thin),
                fresh, x[block], log_psi[block], grad[block], e, o, pos, *hists,
            )
            if len(generators) > 1:
                energies[:, block], derivs[:, block], positions[:, block] = e, o, pos
        moves = rounds * thin * w * (n if single else 1)
        new = replace(
            walkers,
            positions=x,
            accepted=walkers.accepted + accepted,
            proposed=walkers.proposed + moves,
            cache=None,  # single-particle moves: a numpy move that follows rebuilds them
        )
        if not single:
            new = replace(new, log_psi=log_psi, drift=2.0 * grad if self.langevin else None)
        return replace(state, walkers=new), energies, positions, derivs

    def sample(self, state, rounds: int, thin: int):
        """Positions after each of ``rounds`` rounds of ``thin`` moves, (rounds, W, N, d)."""
        state, _, positions, _ = self._run(state, rounds, thin, measure=False, keep=True)
        return state, positions

    def sample_local_terms(self, state, rounds: int, thin: int):
        """E_L (rounds, W) and d ln psi / d p (rounds, W, P) after each of ``rounds``
        rounds of ``thin`` moves: the samples of an optimisation step."""
        state, energies, _, derivs = self._run(state, rounds, thin, measure=True, keep=False,
                                               derive=True)
        return state, energies, derivs

    def produce(self, state, rounds: int, thin: int, densities):
        """E_L of every walker after each round (rounds, W); the densities counted in place."""
        state, energies, _, _ = self._run(state, rounds, thin, measure=True, keep=False,
                                          densities=densities)
        return state, energies
