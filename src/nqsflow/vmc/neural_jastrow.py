"""A permutation-invariant neural Jastrow factor (Deep Sets) with exact derivatives.

    ln J = rho(S),  S = [mean_i phi(t_i), mean_{like i<j} psi_like(t_ij),
                         mean_{unlike i<j} psi_unlike(t_ij)]

t_i = |x_i|^2 / L^2 and t_ij = r_ij^2 / L^2 are squared lengths in units of the
cloud's radius L = sqrt((1 + n_F) / omega) (n_F: the highest occupied shell).
phi and psi embed a scalar into K features (tanh layers; psi's first layer has
its own weights and biases per spin channel, deeper layers are shared); rho
(tanh hidden layers, linear output) maps the pooled 3K features (2K for one
channel) to ln J.  Why so:

- Means over particles and over the pairs of each spin channel make J symmetric
  under every permutation that keeps spins (also up <-> down as a whole), keep S
  of order one for any N, and let rho see the like- and unlike-spin pair
  distributions apart (the Pauli hole).  rho of the pooled S couples all
  particles: many-body correlations, not a sum of pair terms.
- Squared lengths have zero slope at r = 0: J is smooth at coalescence, so the
  Pade-Jastrow's exact cusp is untouched; no kink at the trap centre either.  L
  makes the same initial parameters suit every omega and every closed shell.
- Features are tanh units (no linear output layer: a linear map before the
  mean would only repeat rho's first layer), so with ``hidden: []`` the
  per-pair work is one tanh layer and no matrix product.  Everything is smooth
  and bounded, so ln J is bounded and psi stays normalisable for any parameters.
- rho's last layer starts at zero: J = 1, the start is the Slater-Jastrow state.

Derivatives, exact, in numpy (:mod:`networks`; batched over walkers, loops over layers only):
phi and psi take scalar inputs, so forward mode carries (value, d/dt, d^2/dt^2)
through their layers at about three forward passes.  rho enters the Laplacian as
g . nabla^2 S + sum_{k,a} u_ka^T H u_ka with g = grad rho and u_ka = dS/dx_ka;
the second term is forward mode along the N d directions u_ka, so rho's Hessian
is never formed.  Parameter derivatives are reverse mode: one backward pass per
network, seeded by g.  Single-particle moves keep phi, phi' per particle, psi,
psi' per pair, S, rho(S) and g per walker: moving particle k re-evaluates phi at
one point and psi on its N - 1 pairs and updates S by differences, O(N K H).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nqsflow.vmc.factor import OnePassFactor
from nqsflow.vmc.geometry import pair_indices, pair_vectors, spin_channels
from nqsflow.vmc.jastrow import partners
from nqsflow.vmc.networks import OutputNet, ScalarNet

# hidden widths: one integer (one layer) or a list (one entry per layer, may be empty)
WIDTHS = {"type": ["integer", "array"], "minimum": 1, "items": {"type": "integer", "minimum": 1}}


@dataclass
class NeuralJastrowCache:
    """Per-walker state of single-particle moves.  ``accept`` writes the moved
    particle's rows in place and returns the same object (copying the per-pair
    arrays on every move would cost O(N^2)): keep only the cache it returns.

    ``phi``, ``dphi``: phi and d phi / dt per particle (W, N, K); ``psi``, ``dpsi``:
    per pair, pairs sorted by spin channel (W, P, K); ``s``: the pooled features
    (W, F); ``log_j``: rho(s) (W,); ``g``: d rho / d s (W, F).
    """

    phi: np.ndarray
    dphi: np.ndarray
    psi: np.ndarray
    dpsi: np.ndarray
    s: np.ndarray
    log_j: np.ndarray
    g: np.ndarray


class NeuralJastrow(OnePassFactor):
    """ln J = rho([mean_i phi(|x_i|^2/L^2), mean over each spin channel's pairs psi(r_ij^2/L^2)]).

    ``hidden``: hidden widths of phi and psi before their ``features`` (K) tanh
    units (a list, possibly empty, or one integer); ``rho_hidden``: hidden widths
    of rho (likewise); ``init_std``: scale of the initial weights (deeper layers
    times 1/sqrt(fan-in)).  ``like_pairs`` (P,) flags like-spin pairs in geometry
    order (None: bosons, one channel); ``scale`` is L.
    """

    kind = "neural_jastrow"
    uses_pairs = True
    options = {
        "hidden": WIDTHS,
        "features": {"type": "integer", "minimum": 1},
        "rho_hidden": WIDTHS,
        "init_std": {"type": "number", "minimum": 0},
    }

    @classmethod
    def from_spec(cls, system, **options):
        like = system.like_spin_pairs if system.spins is not None else None
        scale = system.length * np.sqrt(1.0 + system.highest_shell())
        return cls(system.particles, like, scale, **options)

    def __init__(
        self,
        particles: int,
        like_pairs,
        scale: float,
        hidden=(),
        features: int = 12,
        rho_hidden=(16,),
        init_std: float = 1.0,
    ):
        n = self.particles = int(particles)
        like = np.zeros(n * (n - 1) // 2, bool) if like_pairs is None else np.asarray(like_pairs)
        if like_pairs is None:
            self._rows = ["all"]
        else:
            self._rows = spin_channels(like)[0]
        channels = len(self._rows)
        channel = like.astype(int) if channels == 2 else np.zeros(like.size, int)
        # pairs sorted by channel, so that each channel's pairs are one slice
        self._order = np.argsort(channel, kind="stable") if channels == 2 else None
        self._position = np.argsort(self._order) if channels == 2 else np.arange(like.size)
        self._channel = channel[self._order] if channels == 2 else channel  # (P,) sorted
        counts = np.bincount(channel, minlength=channels)
        ends = np.cumsum(counts)
        self._slices = [slice(e - c, e) for c, e in zip(counts, ends, strict=True)]
        self._means = 1.0 / np.maximum(counts, 1)  # (channels,) 1 / pairs in the channel
        self._weight = self._means[self._channel]  # (P,) the same per pair
        incidence = pair_indices(n)[2] if n > 1 else np.zeros((n, 0))
        if self._order is not None:
            incidence = incidence[:, self._order]
        self._incidence = [np.ascontiguousarray(incidence[:, sl]) for sl in self._slices]
        self.inv_l2 = 1.0 / float(scale) ** 2
        self.features = int(features)
        self.init_std = float(init_std)
        hidden, rho_hidden = np.atleast_1d(hidden).tolist(), np.atleast_1d(rho_hidden).tolist()
        self.phi = ScalarNet(hidden, self.features)
        self.psi = ScalarNet(hidden, self.features, channels)
        self.rho = OutputNet(self.features * (1 + channels), rho_hidden)
        self._bounds = np.cumsum([0, self.phi.n_params, self.psi.n_params, self.rho.n_params])
        self.n_params = int(self._bounds[-1])

    def initial_params(self, rng):
        std = self.init_std
        return np.concatenate(
            [self.phi.initial(rng, std), self.psi.initial(rng, std), self.rho.initial(rng, std)]
        )

    def param_names(self):
        return self.phi.names("phi") + self.psi.names("psi", self._rows) + self.rho.names("rho")

    def _layers(self, p):
        lo, a, b, hi = self._bounds
        return self.phi.unpack(p[lo:a]), self.psi.unpack(p[a:b]), self.rho.unpack(p[b:hi])

    def _rows_of(self, positions=None):
        # first-layer row (spin channel) of each pair; None: the single row
        if len(self._rows) == 1:
            return None
        return self._channel if positions is None else self._channel[positions]

    def _pool(self, phi, psi):
        pooled = [phi.mean(1)]
        pooled += [psi[:, sl].sum(1) * m for sl, m in zip(self._slices, self._means, strict=True)]
        return np.concatenate(pooled, axis=1)

    def _sorted_pairs(self, x, pairs):
        diff, r = pairs if pairs is not None else pair_vectors(x)
        if self._order is None:
            return diff, r
        return diff[:, self._order], r[:, self._order]

    def evaluate(self, p, x, pairs, order: int, params: bool):
        """ln J, and by ``order`` (1: gradient, 2: and Laplacian) and ``params`` the rest."""
        walkers, n, dim = x.shape
        k = self.features
        phi_layers, psi_layers, rho_layers = self._layers(p)
        diff, r = self._sorted_pairs(x, pairs)
        t1 = np.einsum("wnd,wnd->wn", x, x) * self.inv_l2
        t2 = r * r * self.inv_l2
        phi, dphi, d2phi, phi_acts = self.phi.forward(phi_layers, t1, None, order)
        psi, dpsi, d2psi, psi_acts = self.psi.forward(psi_layers, t2, self._rows_of(), order)
        s = self._pool(phi, psi)
        log_j, rho_acts = self.rho.forward(rho_layers, s)
        out = {"log_psi": log_j}
        if order == 0 and not params:
            return out
        g, rho_grad = self.rho.backward(rho_layers, s, rho_acts, params)
        c = 2.0 * self.inv_l2  # dt_i/dx_i = c x_i, dt_ij/dx_i = c (x_i - x_j)
        weight = self._weight[:, None]
        if order >= 1:
            # dS/dx laid out (W, N, d, F): the one-body block, then one block per spin
            # channel; filled one axis a at a time (a short last axis is slow in numpy)
            ds = np.empty((walkers, n, dim, s.shape[1]))
            pair_slope = (c * weight) * dpsi
            for a in range(dim):
                ds[:, :, a, :k] = (c / n) * dphi * x[:, :, a, None]
                field = pair_slope * diff[:, :, a, None]
                for ch, (sl, incidence) in enumerate(
                    zip(self._slices, self._incidence, strict=True)
                ):
                    ds[:, :, a, k * (1 + ch) : k * (2 + ch)] = np.matmul(incidence, field[:, sl])
            directions = ds.reshape(walkers, n * dim, -1)
            out["grad"] = np.matmul(directions, g[:, :, None]).reshape(walkers, n, dim)
        if order >= 2:
            # nabla^2 t = c d and |nabla t|^2 = 2 c t, once per particle, twice per pair
            lap_s = [(c * (2.0 * t1[..., None] * d2phi + dim * dphi)).mean(1)]
            # per channel: 2 c / P_c sum_p (2 t_p psi''_p + d psi'_p), as reductions over p
            for sl, mean in zip(self._slices, self._means, strict=True):
                second = np.matmul((2.0 * t2[:, None, sl]), d2psi[:, sl])[:, 0]
                lap_s.append((2.0 * c * mean) * (second + dim * dpsi[:, sl].sum(1)))
            curvature = self.rho.curvature(rho_layers, rho_acts, directions)
            out["lap"] = np.einsum("wf,wf->w", g, np.concatenate(lap_s, axis=1)) + curvature
        if params:
            one = np.broadcast_to(g[:, None, :k] / n, phi.shape)
            counts = [sl.stop - sl.start for sl in self._slices]
            two = np.repeat(g[:, k:].reshape(walkers, -1, k) * self._means[:, None], counts, axis=1)
            onehot = None if len(self._rows) == 1 else np.eye(len(self._rows))[self._channel]
            out["params"] = np.concatenate(
                [
                    self.phi.param_grad(phi_layers, t1, phi_acts, one),
                    self.psi.param_grad(psi_layers, t2, psi_acts, two, onehot),
                    rho_grad,
                ],
                axis=1,
            )
        return out

    # single-particle moves: one phi and N - 1 psi evaluations per walker

    def init_cache(self, p, x) -> NeuralJastrowCache:
        phi_layers, psi_layers, rho_layers = self._layers(p)
        r = self._sorted_pairs(x, None)[1]
        t1 = np.einsum("wnd,wnd->wn", x, x) * self.inv_l2
        phi, dphi, _, _ = self.phi.forward(phi_layers, t1, None, 1)
        psi, dpsi, _, _ = self.psi.forward(psi_layers, r * r * self.inv_l2, self._rows_of(), 1)
        s = self._pool(phi, psi)
        log_j, acts = self.rho.forward(rho_layers, s)
        g = self.rho.backward(rho_layers, s, acts)[0]
        return NeuralJastrowCache(phi, dphi, psi, dpsi, s, log_j, g)

    def _partners(self, n, k):
        # k's partners j, their pairs' sorted positions, channels and weights 1 / P_c
        others, index = partners(n, k)
        positions = self._position[index]
        return others, positions, self._channel[positions], self._weight[positions]

    def _particle_grad(self, g, xk, dphi, dpsi, diff, channel, weight):
        # d rho / d x_k from the particle's phi' (W, K) and its pairs' psi' (W, N-1, K)
        k, c = self.features, 2.0 * self.inv_l2
        one = (c / self.particles) * np.einsum("wf,wf->w", g[:, :k], dphi)
        g_pairs = g[:, k:].reshape(g.shape[0], -1, k)[:, channel]  # (W, N-1, K)
        two = c * weight * np.einsum("wjf,wjf->wj", dpsi, g_pairs)
        return one[:, None] * xk + np.matmul(two[:, None, :], diff)[:, 0]

    def grad_particle(self, p, x, cache: NeuralJastrowCache, k):
        others, positions, channel, weight = self._partners(x.shape[1], k)
        diff = x[:, k : k + 1] - x[:, others]
        dpsi = cache.dpsi[:, positions]
        return self._particle_grad(cache.g, x[:, k], cache.dphi[:, k], dpsi, diff, channel, weight)

    def propose(self, p, x, cache: NeuralJastrowCache, k, xk):
        phi_layers, psi_layers, rho_layers = self._layers(p)
        others, positions, channel, weight = self._partners(x.shape[1], k)
        diff = xk[:, None, :] - x[:, others]
        t1 = np.einsum("wd,wd->w", xk, xk) * self.inv_l2
        t2 = np.einsum("wjd,wjd->wj", diff, diff) * self.inv_l2
        phi, dphi, _, _ = self.phi.forward(phi_layers, t1, None, 1)
        psi, dpsi, _, _ = self.psi.forward(psi_layers, t2, self._rows_of(positions), 1)
        onehot = np.eye(len(self._rows))[channel] * weight[:, None]  # (N-1, channels)
        change = np.einsum("wjf,jc->wcf", psi - cache.psi[:, positions], onehot)
        one = (phi - cache.phi[:, k]) / self.particles
        s = cache.s + np.concatenate([one, change.reshape(one.shape[0], -1)], axis=1)
        log_j, acts = self.rho.forward(rho_layers, s)
        g = self.rho.backward(rho_layers, s, acts)[0]
        grad = self._particle_grad(g, xk, dphi, dpsi, diff, channel, weight)
        return log_j - cache.log_j, grad, (phi, dphi, psi, dpsi, s, log_j, g)

    def accept(self, p, x, cache: NeuralJastrowCache, k, xk, accepted, data):
        rows = np.flatnonzero(accepted)
        if rows.size == 0:
            return cache
        phi, dphi, psi, dpsi, s, log_j, g = data
        positions = self._partners(x.shape[1], k)[1]
        cache.phi[rows, k] = phi[rows]
        cache.dphi[rows, k] = dphi[rows]
        cache.psi[rows[:, None], positions] = psi[rows]
        cache.dpsi[rows[:, None], positions] = dpsi[rows]
        cache.s[rows] = s[rows]
        cache.log_j[rows] = log_j[rows]
        cache.g[rows] = g[rows]
        return cache
