"""Small feed-forward networks with exact derivatives, batched over walkers, in numpy.

- :class:`ScalarNet`: a scalar t -> K features through tanh layers, with forward
  mode in t (value, d/dt, d^2/dt^2 carried through the layers) and reverse mode
  in the parameters, reduced over a set axis (particles or pairs).  The first
  layer may have one row of weights and biases per channel (spin channels).
- :class:`OutputNet`: F inputs -> one output (tanh hidden layers, linear output),
  with its gradient in the inputs and the parameters (reverse mode) and the
  directional curvature sum_D u_D^T H u_D along given directions (forward mode,
  the Hessian H never formed).

Parameters are one flat vector per network: weights then biases, layer by layer.
"""

from __future__ import annotations

import numpy as np


def _dense(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    # one 2-D product over every leading axis (faster than a batched matmul)
    return (h.reshape(-1, h.shape[-1]) @ w).reshape(*h.shape[:-1], w.shape[1])


def _tanh(z):
    h = np.tanh(z)
    return h, 1.0 - h * h


class _Net:
    """Dense layers whose parameters are a flat slice: weights w_l then biases b_l per layer.

    ``shapes``: (weights shape, biases shape) per layer."""

    def __init__(self, shapes):
        self.shapes = [s for layer in shapes for s in layer]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.n_params = sum(self.sizes)

    def unpack(self, p) -> list[tuple[np.ndarray, np.ndarray]]:
        """(w_l, b_l) of each layer, views into ``p``."""
        arrays, at = [], 0
        for shape, size in zip(self.shapes, self.sizes, strict=True):
            arrays.append(p[at : at + size].reshape(shape))
            at += size
        return list(zip(arrays[::2], arrays[1::2], strict=True))

    def names(self, prefix: str, first_rows: list[str] | None = None) -> list[str]:
        """``prefix.w0[i,j]``, ...; a first layer with rows per channel names them."""
        out = []
        for layer in range(len(self.shapes) // 2):
            (m, n), bias = self.shapes[2 * layer], self.shapes[2 * layer + 1]
            rows = first_rows if layer == 0 and first_rows else range(m)
            out += [f"{prefix}.w{layer}[{i},{j}]" for i in rows for j in range(n)]
            if len(bias) == 2:
                out += [f"{prefix}.b{layer}[{c},{j}]" for c in rows for j in range(n)]
            else:
                out += [f"{prefix}.b{layer}[{j}]" for j in range(n)]
        return out


class ScalarNet(_Net):
    """Scalar t -> K features through tanh layers ``[*hidden, K]``.

    The first layer has one row of weights and biases per channel (w0, b0 of
    shape (channels, m)), so the channels share the deeper layers only."""

    def __init__(self, hidden, features: int, channels: int = 1):
        widths = [*hidden, features]
        shapes = [((channels, widths[0]), (channels, widths[0]))]
        shapes += [((m, n), (n,)) for m, n in zip(widths[:-1], widths[1:], strict=True)]
        super().__init__(shapes)
        self.widths, self.channels = widths, channels

    def initial(self, rng, std: float) -> np.ndarray:
        """w0, b0 ~ N(0, std^2) (rows equal: channels start alike); deeper w ~ N(0, std^2/m)."""
        m = self.widths[0]
        parts = [np.tile(rng.normal(0.0, std, m), self.channels) for _ in range(2)]
        for m, n in zip(self.widths[:-1], self.widths[1:], strict=True):
            parts += [rng.normal(0.0, std / np.sqrt(m), m * n), np.zeros(n)]
        return np.concatenate(parts)

    def forward(self, layers, t, rows=None, order: int = 2):
        """Features (..., K) at inputs t (...) with their first and second t-derivatives
        (up to ``order``, else None), and the activations (h, h') of every layer.
        ``rows``: channel of each input (broadcast to t), None for channel 0."""
        w, b = layers[0]
        w0 = w[0] if rows is None else w[rows]
        h, s = _tanh(t[..., None] * w0 + (b[0] if rows is None else b[rows]))
        dh = s * w0 if order >= 1 else None
        d2h = -2.0 * h * dh * w0 if order >= 2 else None  # z'' = 0 in the first layer
        acts = [(h, s)]
        for w, b in layers[1:]:
            h, s = _tanh(_dense(h, w) + b)
            acts.append((h, s))
            if order >= 2:
                dz, d2z = _dense(dh, w), _dense(d2h, w)
                d2h = s * (d2z - 2.0 * h * dz * dz)
                dh = s * dz
            elif order >= 1:
                dh = s * _dense(dh, w)
        return h, dh, d2h, acts

    def param_grad(self, layers, t, acts, cotangent, onehot=None) -> np.ndarray:
        """sum_n cotangent_n . d features(t_n) / d params per walker, (W, n_params).

        ``t`` (W, n), ``cotangent`` (W, n, K); ``onehot`` (n, channels) gives each
        input's channel (None: all channel 0)."""
        walkers = t.shape[0]
        grads = []  # (weights, biases) per layer, last layer first
        delta = cotangent * acts[-1][1]  # d/dz of the last layer
        for layer in range(len(layers) - 1, 0, -1):
            h, s = acts[layer - 1]
            weights = np.matmul(h.swapaxes(1, 2), delta).reshape(walkers, -1)
            grads.append((weights, delta.sum(1)))
            delta = _dense(delta, layers[layer][0].T) * s
        if onehot is None:
            first = (np.einsum("wn,wnm->wm", t, delta), delta.sum(1))
        else:
            first = (
                np.einsum("wn,wnm,nc->wcm", t, delta, onehot).reshape(walkers, -1),
                np.einsum("wnm,nc->wcm", delta, onehot).reshape(walkers, -1),
            )
        grads.append(first)
        return np.concatenate([g for pair in grads[::-1] for g in pair], axis=1)


class OutputNet(_Net):
    """F inputs -> one output: tanh hidden layers, a linear output layer."""

    def __init__(self, inputs: int, hidden):
        widths = [inputs, *hidden, 1]
        super().__init__([((m, n), (n,)) for m, n in zip(widths[:-1], widths[1:], strict=True)])
        self.widths = widths

    def initial(self, rng, std: float) -> np.ndarray:
        """w ~ N(0, std^2/m), biases 0, and the output layer 0 (output 0 everywhere)."""
        parts = []
        for m, n in zip(self.widths[:-2], self.widths[1:-1], strict=True):
            parts += [rng.normal(0.0, std / np.sqrt(m), m * n), np.zeros(n)]
        return np.concatenate([*parts, np.zeros(self.widths[-2] + 1)])

    def forward(self, layers, s):
        """Output (W,) at inputs s (W, F), and the hidden activations (h, h')."""
        z, acts = s, []
        for layer, (w, b) in enumerate(layers):
            if layer:
                acts.append(_tanh(z))
                z = acts[-1][0]
            z = z @ w + b
        return z[:, 0], acts

    def backward(self, layers, s, acts, params: bool = False):
        """d out / d s (W, F) and, if ``params``, d out / d params (W, n_params)."""
        walkers = s.shape[0]
        delta = np.ones((walkers, 1))
        grads = []  # (weights, biases) per layer, last layer first
        for layer in range(len(layers) - 1, -1, -1):
            inputs = acts[layer - 1][0] if layer else s
            if params:
                grads.append(((inputs[:, :, None] * delta[:, None, :]).reshape(walkers, -1), delta))
            delta = delta @ layers[layer][0].T
            if layer:
                delta = delta * acts[layer - 1][1]
        if not params:
            return delta, None
        return delta, np.concatenate([a for pair in grads[::-1] for a in pair], axis=1)

    def curvature(self, layers, acts, directions) -> np.ndarray:
        """sum_D u_D^T (d^2 out / ds^2) u_D for directions u (W, D, F), shape (W,)."""
        t, tt = _dense(directions, layers[0][0]), None
        for (h, s), (w, _) in zip(acts, layers[1:], strict=True):
            h, s = h[:, None, :], s[:, None, :]
            second = -2.0 * h * s * t * t
            tt = _dense(second if tt is None else second + s * tt, w)
            t = _dense(s * t, w)
        if tt is None:  # no hidden layer: rho is linear
            return np.zeros(directions.shape[0])
        return tt[..., 0].sum(1)
