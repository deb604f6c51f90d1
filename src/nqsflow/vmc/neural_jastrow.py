"""A permutation-invariant neural Jastrow factor (Deep Sets) with exact derivatives.

    ln J = rho(S),   S = [mean_i phi(t_i), mean_{i<j} psi(t_ij, c_ij)]   (2K features)

t_i = |x_i|^2 / L^2 and t_ij = r_ij^2 / L^2 are squared lengths in units of the
cloud's radius L = sqrt((1 + n_F) / omega) (n_F: the highest occupied shell),
c_ij is the pair's spin channel (like or unlike), and phi, psi (scalar -> K) and
rho (2K -> 1) are small feed-forward networks.  Why so:

- Means over particles and pairs make J symmetric under every permutation that
  keeps spins, and keep S of order one for any N; rho of the pooled S couples
  all particles (many-body correlations, not a sum of pair terms).
- Squared lengths have zero slope at r = 0: the Pade-Jastrow's exact cusp is
  untouched and the one-body term has no kink at the trap centre.  L makes the
  same initial parameters suit every omega and every closed shell.
- tanh hidden layers and linear outputs: smooth (a Laplacian everywhere) and
  bounded, so ln J is bounded and psi stays normalisable for any parameters.
- Spin: the pair network's first layer has one bias row per spin channel (the
  same as a one-hot channel input); the rows start equal.
- rho's last layer starts at zero: J = 1, the start is the Slater-Jastrow state.

Derivatives, exact and in numpy only (batched over walkers, loops over layers):
phi and psi take scalar inputs, so forward mode carries (value, d/dt, d^2/dt^2)
through the layers at about three forward passes.  rho enters the Laplacian as
g . nabla^2 S + sum_{k,a} u_ka^T H u_ka with g = grad rho, u_ka = dS/dx_ka; the
second term is forward mode along the N d directions u_ka, so rho's Hessian is
never formed.  Parameter derivatives are reverse mode: one backward pass per
network, seeded by g.  Single-particle moves keep phi, phi' per particle, psi,
psi' per pair, S, rho(S) and g per walker: moving particle k re-evaluates phi
at one point and psi on its N - 1 pairs and updates S by differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nqsflow.vmc.factor import Factor
from nqsflow.vmc.geometry import pair_vectors, scatter
from nqsflow.vmc.jastrow import partners

# hidden widths: one integer (one layer) or a list (one entry per layer)
WIDTHS = {
    "type": ["integer", "array"],
    "minimum": 1,
    "items": {"type": "integer", "minimum": 1},
    "minItems": 1,
}


def _dense(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    # one 2-D product over every leading axis (faster than a batched matmul)
    return (h.reshape(-1, h.shape[-1]) @ w).reshape(*h.shape[:-1], w.shape[1])


class MLP:
    """tanh hidden layers, a linear output layer; parameters are a flat slice.

    ``widths`` = [inputs, hidden..., outputs].  The first layer has ``channels``
    bias rows (one per kind of input, e.g. spin channel).  Layer l has weights
    w_l (m, n) and biases b_l, in that order.
    """

    def __init__(self, widths, channels: int = 1):
        self.widths = [int(w) for w in widths]
        self.channels = int(channels)
        self.shapes = []
        for layer, (m, n) in enumerate(zip(self.widths[:-1], self.widths[1:], strict=True)):
            self.shapes += [(m, n), (self.channels, n) if layer == 0 else (n,)]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.n_params = sum(self.sizes)

    def unpack(self, p) -> list[tuple[np.ndarray, np.ndarray]]:
        """(w_l, b_l) of each layer, views into ``p``."""
        arrays, at = [], 0
        for shape, size in zip(self.shapes, self.sizes, strict=True):
            arrays.append(p[at : at + size].reshape(shape))
            at += size
        return list(zip(arrays[::2], arrays[1::2], strict=True))

    def initial(self, rng, std: float, zero_last: bool = False) -> np.ndarray:
        """Weights N(0, std^2 / fan-in), first-layer biases N(0, std^2) (equal rows), others 0."""
        parts = []
        layers = len(self.widths) - 1
        for layer, (m, n) in enumerate(zip(self.widths[:-1], self.widths[1:], strict=True)):
            last = layer == layers - 1
            w = (
                np.zeros((m, n))
                if last and zero_last
                else rng.normal(0.0, std / np.sqrt(m), (m, n))
            )
            if layer == 0:
                b = np.tile(rng.normal(0.0, std, n), (self.channels, 1))
            else:
                b = np.zeros(n)
            parts += [w.ravel(), b.ravel()]
        return np.concatenate(parts)

    def names(self, prefix: str, rows: list[str]) -> list[str]:
        out = []
        for layer, (m, n) in enumerate(zip(self.widths[:-1], self.widths[1:], strict=True)):
            out += [f"{prefix}.w{layer}[{i},{j}]" for i in range(m) for j in range(n)]
            if layer == 0:
                out += [f"{prefix}.b0[{c},{j}]" for c in rows for j in range(n)]
            else:
                out += [f"{prefix}.b{layer}[{j}]" for j in range(n)]
        return out

    # scalar input: forward mode in t, reverse mode in the parameters

    def scalar(self, layers, t, rows=None, order: int = 2):
        """Outputs (..., K) at inputs t (...), their first and second t-derivatives
        (up to ``order``, else None), and the hidden activations (h, h') for backprop.
        ``rows``: first-layer bias row of each input (broadcast to t), None for row 0."""
        w, b = layers[0]
        z = t[..., None] * w[0] + (b[0] if rows is None else b[rows])
        dz, d2z = w[0], None  # the first layer is linear in t
        hidden = []
        for w, b in layers[1:]:
            h = np.tanh(z)
            s = 1.0 - h * h
            hidden.append((h, s))
            if order >= 2:
                d2h = -2.0 * h * s * dz * dz
                d2z = _dense(d2h if d2z is None else d2h + s * d2z, w)
            if order >= 1:
                dz = _dense(s * dz, w)
            z = _dense(h, w) + b
        return z, (dz if order >= 1 else None), d2z, hidden

    def scalar_param_grad(self, layers, t, hidden, cotangent, onehot=None) -> np.ndarray:
        """sum_n cotangent_n . d out(t_n) / d params per walker, (W, n_params).

        ``t`` (W, n), ``cotangent`` (W, n, K); ``onehot`` (n, channels) maps each
        input to its first-layer bias row (None: all row 0)."""
        walkers = t.shape[0]
        grads = []  # (weights, biases) per layer, last layer first
        delta = cotangent
        for layer in range(len(layers) - 1, 0, -1):
            h, s = hidden[layer - 1]
            weights = np.matmul(h.swapaxes(1, 2), delta).reshape(walkers, -1)
            grads.append((weights, delta.sum(1)))
            delta = _dense(delta, layers[layer][0].T) * s
        if onehot is None:
            biases = delta.sum(1)
        else:
            biases = np.einsum("wnm,nc->wcm", delta, onehot).reshape(walkers, -1)
        grads.append((np.einsum("wn,wnm->wm", t, delta), biases))
        return np.concatenate([g for pair in grads[::-1] for g in pair], axis=1)

    # vector input (rho): value, gradient, directional curvature, parameters

    def vector(self, layers, s):
        """Output (W,) at inputs s (W, F) and the hidden activations."""
        z, hidden = s, []
        for layer, (w, b) in enumerate(layers):
            if layer:
                h = np.tanh(z)
                hidden.append((h, 1.0 - h * h))
                z = h
            z = z @ w + (b[0] if layer == 0 else b)
        return z[:, 0], hidden

    def vector_backward(self, layers, s, hidden, params: bool = False):
        """d out / d s (W, F) and, if ``params``, d out / d params (W, n_params)."""
        walkers = s.shape[0]
        delta = np.ones((walkers, 1))
        grads = []  # (weights, biases) per layer, last layer first
        for layer in range(len(layers) - 1, 0, -1):
            h, slope = hidden[layer - 1]
            if params:
                grads.append(((h[:, :, None] * delta[:, None, :]).reshape(walkers, -1), delta))
            delta = (delta @ layers[layer][0].T) * slope
        g = delta @ layers[0][0].T
        if not params:
            return g, None
        grads.append(((s[:, :, None] * delta[:, None, :]).reshape(walkers, -1), delta))
        return g, np.concatenate([a for pair in grads[::-1] for a in pair], axis=1)

    def vector_curvature(self, layers, hidden, directions) -> np.ndarray:
        """sum_D u_D^T (d^2 out / ds^2) u_D for directions u (W, D, F), shape (W,)."""
        t = _dense(directions, layers[0][0])
        tt = None
        for (h, s), (w, _) in zip(hidden, layers[1:], strict=True):
            h, s = h[:, None, :], s[:, None, :]
            second = -2.0 * h * s * t * t
            tt = _dense(second if tt is None else second + s * tt, w)
            t = _dense(s * t, w)
        return tt[..., 0].sum(1)


@dataclass
class NeuralJastrowCache:
    """Per-walker state of single-particle moves.  ``accept`` writes the moved
    particle's rows in place and returns the same object (copying the per-pair
    arrays on every move would cost O(N^2)): keep only the cache it returns.

    ``phi``, ``dphi``: phi and d phi / dt per particle (W, N, K); ``psi``, ``dpsi``:
    per pair (W, P, K); ``s``: the pooled features (W, 2K); ``log_j``: rho(s) (W,);
    ``g``: d rho / d s (W, 2K).
    """

    phi: np.ndarray
    dphi: np.ndarray
    psi: np.ndarray
    dpsi: np.ndarray
    s: np.ndarray
    log_j: np.ndarray
    g: np.ndarray


class NeuralJastrow(Factor):
    """ln J = rho([mean_i phi(|x_i|^2/L^2), mean_{i<j} psi(r_ij^2/L^2, spin channel)]).

    ``hidden``: hidden widths of phi and psi (a list, or one integer for one
    layer); ``features``: K; ``rho_hidden``: hidden widths of rho (likewise);
    ``init_std``: scale of the initial weights (times 1/sqrt(fan-in)).
    ``like_pairs`` (P,) flags like-spin pairs (None: bosons, one channel);
    ``scale`` is L.
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
        hidden=(12, 12),
        features: int = 6,
        rho_hidden=(12,),
        init_std: float = 1.0,
    ):
        self.particles = int(particles)
        n_pairs = self.particles * (self.particles - 1) // 2
        self._pair_norm = max(n_pairs, 1)  # the pair mean; no pairs: S_pair = 0
        like = np.zeros(n_pairs, bool) if like_pairs is None else np.asarray(like_pairs, bool)
        if like_pairs is None:
            self._rows = ["all"]
        else:
            self._rows = [c for c, f in (("unlike", False), ("like", True)) if np.any(like == f)]
            self._rows = self._rows or ["unlike"]
        self._channel = like.astype(int) if len(self._rows) == 2 else np.zeros(n_pairs, int)
        self._onehot = np.eye(len(self._rows))[self._channel]  # (P, channels)
        self.inv_l2 = 1.0 / float(scale) ** 2
        self.features = int(features)
        self.init_std = float(init_std)
        hidden, rho_hidden = np.atleast_1d(hidden).tolist(), np.atleast_1d(rho_hidden).tolist()
        self.phi = MLP([1, *hidden, self.features])
        self.psi = MLP([1, *hidden, self.features], channels=len(self._rows))
        self.rho = MLP([2 * self.features, *rho_hidden, 1])
        self._bounds = np.cumsum([0, self.phi.n_params, self.psi.n_params, self.rho.n_params])
        self.n_params = int(self._bounds[-1])

    def initial_params(self, rng):
        return np.concatenate(
            [
                self.phi.initial(rng, self.init_std),
                self.psi.initial(rng, self.init_std),
                self.rho.initial(rng, self.init_std, zero_last=True),
            ]
        )

    def param_names(self):
        return (
            self.phi.names("phi", ["all"])
            + self.psi.names("psi", self._rows)
            + self.rho.names("rho", ["all"])
        )

    def _layers(self, p):
        lo, a, b, hi = self._bounds
        return self.phi.unpack(p[lo:a]), self.psi.unpack(p[a:b]), self.rho.unpack(p[b:hi])

    def _pool(self, phi, psi):
        return np.concatenate([phi.mean(1), psi.sum(1) / self._pair_norm], axis=1)

    def _evaluate(self, p, x, pairs, order: int, params: bool):
        """ln J, and by ``order`` (1: gradient, 2: and Laplacian) and ``params`` the rest."""
        walkers, n, dim = x.shape
        phi_layers, psi_layers, rho_layers = self._layers(p)
        diff, r = pairs if pairs is not None else pair_vectors(x)
        t1 = np.einsum("wnd,wnd->wn", x, x) * self.inv_l2
        t2 = r * r * self.inv_l2
        phi, dphi, d2phi, phi_hidden = self.phi.scalar(phi_layers, t1, None, order)
        psi, dpsi, d2psi, psi_hidden = self.psi.scalar(psi_layers, t2, self._channel, order)
        s = self._pool(phi, psi)
        log_j, rho_hidden = self.rho.vector(rho_layers, s)
        out = {"log_psi": log_j}
        if order == 0 and not params:
            return out
        g, rho_grad = self.rho.vector_backward(rho_layers, s, rho_hidden, params)
        k, n_pairs = self.features, self._pair_norm
        if order >= 1:
            # dS/dx_k (W, N, 2K, d): dt_i/dx_i = 2 x_i / L^2, dt_ij/dx_i = 2 (x_i - x_j) / L^2
            c = 2.0 * self.inv_l2
            one = (c / n) * dphi[..., None] * x[:, :, None, :]
            field = (c / n_pairs) * dpsi[..., None] * diff[:, :, None, :]
            two = scatter(field.reshape(walkers, -1, k * dim), n).reshape(walkers, n, k, dim)
            ds = np.concatenate([one, two], axis=2)
            out["grad"] = np.einsum("wnfd,wf->wnd", ds, g)
        if order >= 2:
            # nabla^2 t = 2d / L^2 and |nabla t|^2 = 4 t / L^2, once per particle, twice per pair
            lap_one = (c * (2.0 * t1[..., None] * d2phi + dim * dphi)).mean(1)
            lap_two = (2.0 / n_pairs) * (c * (2.0 * t2[..., None] * d2psi + dim * dpsi)).sum(1)
            lap_s = np.concatenate([lap_one, lap_two], axis=1)
            directions = ds.transpose(0, 1, 3, 2).reshape(walkers, n * dim, 2 * k)
            curvature = self.rho.vector_curvature(rho_layers, rho_hidden, directions)
            out["lap"] = np.einsum("wf,wf->w", g, lap_s) + curvature
        if params:
            one = np.broadcast_to(g[:, None, :k] / n, phi.shape)
            two = np.broadcast_to(g[:, None, k:] / n_pairs, psi.shape)
            out["params"] = np.concatenate(
                [
                    self.phi.scalar_param_grad(phi_layers, t1, phi_hidden, one),
                    self.psi.scalar_param_grad(psi_layers, t2, psi_hidden, two, self._onehot),
                    rho_grad,
                ],
                axis=1,
            )
        return out

    def log_psi(self, p, x, pairs=None):
        return self._evaluate(p, x, pairs, 0, False)["log_psi"]

    def log_psi_grad(self, p, x, pairs=None):
        out = self._evaluate(p, x, pairs, 1, False)
        return out["log_psi"], out["grad"]

    def grad_lap(self, p, x, pairs=None):
        out = self._evaluate(p, x, pairs, 2, False)
        return out["grad"], out["lap"]

    def param_grad(self, p, x, pairs=None):
        return self._evaluate(p, x, pairs, 0, True)["params"]

    def local_terms(self, p, x, pairs=None):
        out = self._evaluate(p, x, pairs, 2, True)
        return out["grad"], out["lap"], out["params"]

    # single-particle moves: one phi and N - 1 psi evaluations per walker

    def init_cache(self, p, x) -> NeuralJastrowCache:
        phi_layers, psi_layers, rho_layers = self._layers(p)
        r = pair_vectors(x)[1]
        t1 = np.einsum("wnd,wnd->wn", x, x) * self.inv_l2
        phi, dphi, _, _ = self.phi.scalar(phi_layers, t1, None, 1)
        psi, dpsi, _, _ = self.psi.scalar(psi_layers, r * r * self.inv_l2, self._channel, 1)
        s = self._pool(phi, psi)
        log_j, hidden = self.rho.vector(rho_layers, s)
        g = self.rho.vector_backward(rho_layers, s, hidden)[0]
        return NeuralJastrowCache(phi, dphi, psi, dpsi, s, log_j, g)

    def _particle_grad(self, g, xk, dphi, dpsi, diff):
        # d rho / d x_k from the moved particle's phi' (W, K) and its pairs' psi' (W, N-1, K)
        k, n = self.features, self.particles
        c = 2.0 * self.inv_l2
        one = (c / n) * np.einsum("wf,wf->w", g[:, :k], dphi)
        two = (c / self._pair_norm) * np.einsum("wjf,wf->wj", dpsi, g[:, k:])
        return one[:, None] * xk + np.einsum("wj,wjd->wd", two, diff)

    def grad_particle(self, p, x, cache: NeuralJastrowCache, k):
        others, index = partners(x.shape[1], k)
        diff = x[:, k : k + 1] - x[:, others]
        return self._particle_grad(cache.g, x[:, k], cache.dphi[:, k], cache.dpsi[:, index], diff)

    def propose(self, p, x, cache: NeuralJastrowCache, k, xk):
        phi_layers, psi_layers, rho_layers = self._layers(p)
        others, index = partners(x.shape[1], k)
        diff = xk[:, None, :] - x[:, others]
        t1 = np.einsum("wd,wd->w", xk, xk) * self.inv_l2
        t2 = np.einsum("wjd,wjd->wj", diff, diff) * self.inv_l2
        phi, dphi, _, _ = self.phi.scalar(phi_layers, t1, None, 1)
        psi, dpsi, _, _ = self.psi.scalar(psi_layers, t2, self._channel[index], 1)
        change = np.concatenate(
            [
                (phi - cache.phi[:, k]) / self.particles,
                (psi - cache.psi[:, index]).sum(1) / self._pair_norm,
            ],
            axis=1,
        )
        s = cache.s + change
        log_j, hidden = self.rho.vector(rho_layers, s)
        g = self.rho.vector_backward(rho_layers, s, hidden)[0]
        grad = self._particle_grad(g, xk, dphi, dpsi, diff)
        return log_j - cache.log_j, grad, (phi, dphi, psi, dpsi, s, log_j, g)

    def accept(self, p, x, cache: NeuralJastrowCache, k, xk, accepted, data):
        rows = np.flatnonzero(accepted)
        if rows.size == 0:
            return cache
        phi, dphi, psi, dpsi, s, log_j, g = data
        index = partners(x.shape[1], k)[1]
        cache.phi[rows, k] = phi[rows]
        cache.dphi[rows, k] = dphi[rows]
        cache.psi[rows[:, None], index] = psi[rows]
        cache.dpsi[rows[:, None], index] = dpsi[rows]
        cache.s[rows] = s[rows]
        cache.log_j[rows] = log_j[rows]
        cache.g[rows] = g[rows]
        return cache
