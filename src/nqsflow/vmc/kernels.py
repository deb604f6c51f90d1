"""Fused per-walker kernels (numba): ln psi, its gradient and Laplacian, E_L, the moves,
and d ln psi / d p for the optimisation.

The numpy factors are the reference; this module computes the same numbers one
walker at a time in compiled scalar loops, with no temporaries, for the factor
kinds that have a kernel (Gaussian, RBM, Pade-Jastrow, hard-sphere Jastrow,
Slater determinant, neural Jastrow).

A product of factors is composed by code generation (:mod:`nqsflow.vmc.fused`):
a small module calls the factor kernels below in a straight line (``evaluate``,
``particle`` and ``derivatives``), fixes the kind of move as constants, and takes
the move loop ``run_block``, ``evaluate_batch`` and ``local_terms_batch`` from the
templates at the end of this file.
What the profile showed, on the 2-electron dot with RBM(4) x Pade-Jastrow:
every array view passed to a function or taken per walker (``x[w]``) costs
atomic reference counts, more than a small factor's arithmetic, so the helpers
are inlined, walkers are indexed (or copied to scratch), and the generated code
is straight-line (a runtime branch on the factor or move kind around array
writes defeats numba's reference-count pruning; each of these doubled the time
per walker); particles, dimensions and hidden units are constants of the
generated module, so the short loops unroll (1.3-1.6x).  Each factor's
parameters and derived numbers are packed into one float array
``consts[offsets[f]:offsets[f + 1]]``.

Random numbers come from the walker blocks' numpy ``Generator`` inside the
loop, drawn in the order the numpy samplers draw them (per move: every
walker's normals, then every walker's uniform), and numba's generators give
numpy's numbers bit for bit, so both paths run the same chains up to round-off.

Imported lazily (numba's import costs ~0.3 s): only :mod:`fused` imports it,
when a run uses the kernels.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

GAUSSIAN, RBM, PADE, HARD_SPHERE, SLATER, NEURAL = 0, 1, 2, 3, 4, 5

# error_model="numpy": a division by zero gives inf or NaN (a rejected move), as in numpy
FAST = {"contract", "reassoc", "arcp", "nsz"}  # no "nnan"/"ninf": -inf marks a hard core
jit = nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=FAST)
# the helpers are inlined into the generated kernels: a call that passes arrays costs
# atomic reference counts, more than the arithmetic of a small factor
inline = nb.njit(cache=True, nogil=True, error_model="numpy", inline="always", fastmath=FAST)


@inline
def _sq(v):
    return v * v


@inline
def _distance(x, i, j, d):
    # |x_i - x_j| of two particles of one walker x (N, d)
    r2 = 0.0
    for a in range(d):
        r2 += _sq(x[i, a] - x[j, a])
    return math.sqrt(r2)


@inline
def _hidden(b, w, s2, x, work, n, d, h):
    """sum_j softplus(z_j) of the hidden fields z = b + v W / sigma^2, sigmoid(z_j) into work.

    softplus(z) = max(z, 0) + ln(1 + e^-|z|): the logs are summed as one log of a
    product (each factor lies in [1, 2], so no overflow below ~1000 hidden units),
    one logarithm per walker instead of one per hidden unit.
    """
    linear, product = 0.0, 1.0
    for j in range(h):
        z = 0.0
        q = j
        for i in range(n):
            for k in range(d):
                z += x[i, k] * w[q]
                q += h
        z = b[j] + z / s2
        e = math.exp(-abs(z))
        inverse = 1.0 / (1.0 + e)
        product *= 1.0 + e
        linear += max(z, 0.0)
        work[j] = inverse if z >= 0 else e * inverse
    return linear + math.log(product)


# --- one factor, all particles of one walker x (N, d): (ln psi, Laplacian), and the
# gradient added into grad (N, d); every kernel computes all three (no branches)


@inline
def gaussian(c, x, grad, n, d):
    """consts: d ln psi / d x = -c[a] x per axis a."""
    log, lap = 0.0, 0.0
    for i in range(n):
        for a in range(d):
            log -= 0.5 * c[a] * x[i, a] * x[i, a]
            grad[i, a] -= c[a] * x[i, a]
    for a in range(d):
        lap -= n * c[a]
    return log, lap


@inline
def rbm(c, x, grad, work, n, d, h):
    """consts: sigma^2, H, a (M), b (H), W (M H, row-major), sum_i W_ij^2 (H);
    work receives the sigmoids of the H hidden fields."""
    m, s2 = n * d, c[0]
    a, b = c[2 : 2 + m], c[2 + m : 2 + m + h]
    w, w2 = c[2 + m + h : 2 + m + h + m * h], c[2 + m + h + m * h :]
    log = 0.0
    q = 0
    for i in range(n):
        for k in range(d):
            log -= _sq(x[i, k] - a[q])
            q += 1
    log = log / (2.0 * s2) + _hidden(b, w, s2, x, work, n, d, h)
    curvature = 0.0
    for j in range(h):
        curvature += work[j] * (1.0 - work[j]) * w2[j]
    q = 0
    for i in range(n):
        for k in range(d):
            sw = 0.0
            for j in range(h):
                sw += work[j] * w[q * h + j]
            grad[i, k] += (sw - (x[i, k] - a[q])) / s2
            q += 1
    return log, -m / s2 + curvature / (s2 * s2)


@inline
def _pair_u(kind, c, r, pair):
    # u(r), u'(r), u''(r) of pair number `pair` (geometry order); kind is a constant
    if kind == PADE:  # consts: P, cusp (P), beta (P)
        p = int(c[0])
        cusp, beta = c[1 + pair], c[1 + p + pair]
        q = 1.0 / (1.0 + beta * r)
        d1 = cusp * q * q
        return cusp * r * q, d1, -2.0 * beta * d1 * q
    radius = c[0]  # hard sphere: consts: radius
    u = math.log1p(-radius / r) if r > radius else -np.inf
    t = r * (r - radius)
    return u, radius / t, -radius * (2.0 * r - radius) / (t * t)


@inline
def pairs(kind, c, x, grad, n, d):
    """sum_{i<j} u(r_ij) of a pair factor."""
    log, lap, pair = 0.0, 0.0, 0
    for i in range(n):
        for j in range(i + 1, n):
            r = _distance(x, i, j, d)
            u, d1, d2 = _pair_u(kind, c, r, pair)
            log += u
            f = d1 / r
            for k in range(d):
                g = f * (x[i, k] - x[j, k])
                grad[i, k] += g
                grad[j, k] -= g
            lap += 2.0 * (d2 + (d - 1) * f)
            pair += 1
    return log, lap


# --- one factor, one particle: a function of particle k whose change is that of ln psi,
# at x with particle k moved already; its gradient added into gk (d,)


@inline
def gaussian_particle(c, x, k, gk, n, d):
    log = 0.0
    for a in range(d):
        log -= 0.5 * c[a] * x[k, a] * x[k, a]
        gk[a] -= c[a] * x[k, a]
    return log


@inline
def rbm_particle(c, x, k, gk, work, n, d, h):
    m, s2 = n * d, c[0]
    a, b, w = c[2 : 2 + m], c[2 + m : 2 + m + h], c[2 + m + h : 2 + m + h + m * h]
    log = 0.0
    for q in range(d):
        log -= _sq(x[k, q] - a[k * d + q])
    log = log / (2.0 * s2) + _hidden(b, w, s2, x, work, n, d, h)
    for q in range(d):
        row = (k * d + q) * h
        sw = 0.0
        for j in range(h):
            sw += work[j] * w[row + j]
        gk[q] += (sw - (x[k, q] - a[k * d + q])) / s2
    return log


@inline
def pairs_particle(kind, c, x, k, gk, n, d):
    log = 0.0
    for j in range(n):
        if j == k:
            continue
        lo, hi = min(j, k), max(j, k)
        pair = lo * n - lo * (lo + 1) // 2 + hi - lo - 1
        r = _distance(x, k, j, d)
        u, d1, _ = _pair_u(kind, c, r, pair)
        log += u
        f = d1 / r
        for q in range(d):
            gk[q] += f * (x[k, q] - x[j, q])
    return log


# --- one factor's d ln psi / d p of one walker x, into out[t, w, base : base + its count]


@inline
def gaussian_params(c, x, out, t, w, base, n, d, count):
    """consts: scale (d), omega, alpha[, beta]; params alpha[, beta] (count 1 or 2)."""
    perp2, z2 = 0.0, 0.0
    for i in range(n):
        for a in range(d):
            if count == 2 and a == d - 1:
                z2 += x[i, a] * x[i, a]
            else:
                perp2 += x[i, a] * x[i, a]
    omega = c[d]
    if count == 2:
        out[t, w, base] = -0.5 * omega * (perp2 + c[d + 2] * z2)
        out[t, w, base + 1] = -0.5 * c[d + 1] * omega * z2
    else:
        out[t, w, base] = -0.5 * omega * perp2


@inline
def rbm_params(c, x, out, t, w, base, work, n, d, h):
    """params a (M), b (H), W (M H, row-major):
    (v - a) / sigma^2, sigmoid(z), v sigmoid(z) / sigma^2."""
    m, s2 = n * d, c[0]
    a, b, wt = c[2 : 2 + m], c[2 + m : 2 + m + h], c[2 + m + h : 2 + m + h + m * h]
    _hidden(b, wt, s2, x, work, n, d, h)
    for j in range(h):
        out[t, w, base + m + j] = work[j]
    q = 0
    for i in range(n):
        for k in range(d):
            out[t, w, base + q] = (x[i, k] - a[q]) / s2
            v = x[i, k] / s2
            row = base + m + h + q * h
            for j in range(h):
                out[t, w, row + j] = v * work[j]
            q += 1


@inline
def pade_params(c, x, out, t, w, base, n, d, count):
    """consts: P, cusp (P), beta (P), channel (P); params ln beta per channel:
    d/d(ln beta) of a r / (1 + beta r) = -a beta (r / (1 + beta r))^2."""
    p = int(c[0])
    for q in range(count):
        out[t, w, base + q] = 0.0
    pair = 0
    for i in range(n):
        for j in range(i + 1, n):
            r = _distance(x, i, j, d)
            beta = c[1 + p + pair]
            f = r / (1.0 + beta * r)
            out[t, w, base + int(c[1 + 2 * p + pair])] -= c[1 + pair] * beta * f * f
            pair += 1


# --- the Slater determinant (vmc/slater.py): one determinant of oscillator orbitals per
# spin channel, recomputed from the positions at each call (no cache between calls:
# an inverse of n <= 10 rows costs less than carrying it); consts: alpha omega,
# sqrt(alpha omega), alpha, omega, envelope flag, n_up, n_down, top quantum,
# orbitals, then the orbitals' quanta (orbitals x d)
_SLATER_QUANTA = 9


@inline
def _orbital_rows(c, x, i, row, m, work, hermite, d, order):
    """P_j(x_i) of the channel's m orbitals into work[row m + j], and with ``order``
    >= 1 the gradient into work[grads + ((row m + j) d + a)], with 2 the Laplacian
    into work[laps + row m + j] (grads = 2 m^2, laps = 2 m^2 + m^2 d)."""
    s, top = c[1], int(c[7])
    for a in range(d):  # H_n(s x_a), n = 0..top, then its first and second derivatives
        y = s * x[i, a]
        base = hermite + a * 3 * (top + 1)
        work[base] = 1.0
        if top >= 1:
            work[base + 1] = 2.0 * y
        for q in range(1, top):
            work[base + q + 1] = 2.0 * y * work[base + q] - 2.0 * q * work[base + q - 1]
        for q in range(top + 1):
            work[base + top + 1 + q] = s * 2.0 * q * work[base + q - 1] if q >= 1 else 0.0
            work[base + 2 * (top + 1) + q] = (
                s * s * 4.0 * q * (q - 1) * work[base + q - 2] if q >= 2 else 0.0
            )
    grads, laps = 2 * m * m, 2 * m * m + m * m * d
    for j in range(m):
        value = 1.0
        for a in range(d):
            value *= work[hermite + a * 3 * (top + 1) + int(c[_SLATER_QUANTA + j * d + a])]
        work[row * m + j] = value
        if order >= 1:
            lap = 0.0
            for a in range(d):
                others = 1.0  # the product over the other axes
                for b in range(d):
                    if b != a:
                        others *= work[hermite + b * 3 * (top + 1)
                                       + int(c[_SLATER_QUANTA + j * d + b])]
                q = int(c[_SLATER_QUANTA + j * d + a])
                base = hermite + a * 3 * (top + 1)
                work[grads + (row * m + j) * d + a] = work[base + top + 1 + q] * others
                lap += work[base + 2 * (top + 1) + q] * others
            if order >= 2:
                work[laps + row * m + j] = lap


@inline
def _invert(work, m):
    """B = A^-1 into work[m^2:2m^2] (B[j, i] at m^2 + j m + i) from A (row i = particle i,
    column j = orbital j) in work[0:m^2], destroyed; Gauss-Jordan with partial pivoting.
    Returns ln|det A| (-inf where A is singular)."""
    b = m * m
    for i in range(m):
        for j in range(m):
            work[b + i * m + j] = 1.0 if i == j else 0.0
    log = 0.0
    for col in range(m):
        pivot, best = col, abs(work[col * m + col])
        for r in range(col + 1, m):
            if abs(work[r * m + col]) > best:
                pivot, best = r, abs(work[r * m + col])
        if best == 0.0:
            return -np.inf
        if pivot != col:
            for j in range(m):
                t = work[col * m + j]
                work[col * m + j] = work[pivot * m + j]
                work[pivot * m + j] = t
                t = work[b + col * m + j]
                work[b + col * m + j] = work[b + pivot * m + j]
                work[b + pivot * m + j] = t
        log += math.log(best)
        inverse = 1.0 / work[col * m + col]
        for j in range(m):
            work[col * m + j] *= inverse
            work[b + col * m + j] *= inverse
        for r in range(m):
            if r != col:
                f = work[r * m + col]
                if f != 0.0:
                    for j in range(m):
                        work[r * m + j] -= f * work[col * m + j]
                        work[b + r * m + j] -= f * work[b + col * m + j]
    return log


@inline
def _slater_hermite(m, d):
    # the offset of the Hermite tables in the work array
    return 3 * m * m + m * m * d


@inline
def _channel_inverse(c, x, first, m, work, d, order):
    """A channel's orbital rows (to ``order``, see :func:`_orbital_rows`) of its
    particles first, ..., first + m - 1, and B = A^-1 into work[m^2:2m^2]; ln|det A|."""
    hermite = _slater_hermite(m, d)
    for i in range(m):
        _orbital_rows(c, x, first + i, i, m, work, hermite, d, order)
    return _invert(work, m)


@inline
def slater(c, x, grad, work, n, d, det_only):
    """ln|D_up D_down| (+ the Gaussian envelope), its Laplacian, its gradient added
    into grad; ``det_only``: the determinants' gradient only, no envelope (d/d alpha)."""
    log, lap = 0.0, 0.0
    first = 0
    for channel in range(2):
        m = int(c[5 + channel])
        if m == 0:
            continue
        log += _channel_inverse(c, x, first, m, work, d, 1 if det_only else 2)
        grads, laps = 2 * m * m, 2 * m * m + m * m * d
        for i in range(m):
            g2 = 0.0
            for a in range(d):
                g = 0.0
                for j in range(m):
                    g += work[grads + (i * m + j) * d + a] * work[m * m + j * m + i]
                grad[first + i, a] += g
                g2 += g * g
            if not det_only:  # (no Laplacian tables were made for the gradient alone)
                curvature = 0.0
                for j in range(m):
                    curvature += work[laps + i * m + j] * work[m * m + j * m + i]
                lap += curvature - g2
        first += m
    if c[4] != 0.0 and not det_only:  # the common Gaussian exp(-alpha omega r^2 / 2)
        a2 = c[0]
        for i in range(n):
            for a in range(d):
                log -= 0.5 * a2 * x[i, a] * x[i, a]
                grad[i, a] -= a2 * x[i, a]
        lap -= a2 * n * d
    return log, lap


@inline
def slater_params(c, x, out, t, w, base, work, n, d):
    """d ln psi / d alpha: x . grad ln|det P| / (2 alpha) (+ the envelope's -omega r^2 / 2)."""
    gd = np.zeros((n, d))  # the determinants' gradient alone
    slater(c, x, gd, work, n, d, True)
    total, r2 = 0.0, 0.0
    for i in range(n):
        for a in range(d):
            total += x[i, a] * gd[i, a]
            r2 += x[i, a] * x[i, a]
    value = total / (2.0 * c[2])
    if c[4] != 0.0:
        value -= 0.5 * c[3] * r2
    out[t, w, base] = value


# single-particle moves with the inverses carried through a sweep, per walker, in
# cache[w, cb : cb + N^2 + N + 1]: B of the up channel, of the down channel, then the
# proposal's orbital row u and its ratio R for the update on acceptance


@inline
def _slater_channel(c, k):
    # particle k's channel: (its first particle, its size, the offset of its B in the cache)
    up = int(c[5])
    if k < up:
        return 0, up, 0
    return up, int(c[6]), up * up


@inline
def slater_cache(c, x, cache, w, cb, work, n, d):
    """The inverses B = A^-1 of both channels at x into the walker's cache."""
    first, off = 0, cb
    for channel in range(2):
        m = int(c[5 + channel])
        if m == 0:
            continue
        _channel_inverse(c, x, first, m, work, d, 0)
        for q in range(m * m):
            cache[w, off + q] = work[m * m + q]
        first += m
        off += m * m


@inline
def slater_move(c, x, k, gk, work, cache, w, cb, n, d, before):
    """Particle k at x[k], its gradient into gk from the cached inverse: ``before``
    its move, the reference 0 for the determinant; else proposed, ln|R| with
    R = sum_j P_j(x_k) B[j, i], u = P(x_k) and R kept for :func:`slater_accept`.
    Plus k's Gaussian either way."""
    first, m, off = _slater_channel(c, k)
    column = cb + off + k - first  # B[j, i] at column + j m
    _orbital_rows(c, x, k, 0, m, work, _slater_hermite(m, d), d, 1)
    ratio, log = 1.0, 0.0
    if not before:
        pending = cb + n * n
        ratio = 0.0
        for j in range(m):
            cache[w, pending + j] = work[j]
            ratio += work[j] * cache[w, column + j * m]
        cache[w, pending + n] = ratio
        log = math.log(abs(ratio)) if ratio != 0.0 else -np.inf
    grads = 2 * m * m
    for a in range(d):
        g = 0.0
        for j in range(m):
            g += work[grads + j * d + a] * cache[w, column + j * m]
        gk[a] += g / ratio  # after the move, the new B's column i: the old one over R
    if c[4] != 0.0:
        for a in range(d):
            log -= 0.5 * c[0] * x[k, a] * x[k, a]
            gk[a] -= c[0] * x[k, a]
    return log


@inline
def slater_accept(c, k, cache, w, cb, work, n, d):
    """Sherman-Morrison after particle k's accepted move: B' = B - B[:, i] (u^T B - e_i^T) / R."""
    first, m, off = _slater_channel(c, k)
    row, base, pending = k - first, cb + off, cb + n * n
    inverse = 1.0 / cache[w, pending + n]
    for col in range(m):  # (u^T B - e_i^T)[col] into work[col]
        v = 0.0
        for j in range(m):
            v += cache[w, pending + j] * cache[w, base + j * m + col]
        work[col] = v - 1.0 if col == row else v
    for j in range(m):  # the old column i over R into work[m + j]
        work[m + j] = cache[w, base + j * m + row] * inverse
    for j in range(m):
        for col in range(m):
            cache[w, base + j * m + col] -= work[m + j] * work[col]


# --- the neural Jastrow (vmc/neural_jastrow.py): ln J = rho(S), S = [mean_i phi(t_i),
# per spin channel (1/P_c) sum of psi(t_p) over its pairs], t = squared length / L^2.
# consts: 1/L^2, K, channels C, the layers of phi and psi (Ls) and of rho (Lr), the
# offsets of every block (in consts, in work, in a walker's cache: computed once by
# fused._neural_layout, the one place of this layout), the widths of phi and psi
# (Ls), of rho (Lr + 1, from F = K (1 + C) to 1), each pair's channel and weight
# 1/P_c (geometry order), rho's first weights transposed (m1 x F: its products run
# along contiguous rows), then the parameters of phi, psi and rho as
# vmc/networks.py lays them out (per layer: weights row-major, then biases; the
# first layer of phi and psi has one row per channel).  The networks' widths are
# read at run time: a module serves every width.


@inline
def _tanh(z):
    # through exp: libm's tanh costs 3-4x as much; |error| < 1e-16 (h and 1 - h^2 are
    # used, never h / z)
    e = math.exp(-2.0 * abs(z))
    h = (1.0 - e) / (1.0 + e)
    return h if z >= 0.0 else -h


@inline
def _neural_header(c):
    # K, C, Ls, Lr, and the offsets in consts of the widths of phi/psi, of rho, the
    # pair channels, the pair weights, rho's first weights transposed and the
    # parameters of phi, psi and rho
    return (int(c[1]), int(c[2]), int(c[3]), int(c[4]), int(c[5]), int(c[6]), int(c[7]),
            int(c[8]), int(c[9]), int(c[10]), int(c[11]), int(c[12]))


@inline
def _neural_work(c):
    """Offsets in work: the scalar nets' forward buffers (6 wm), their layers' (h, h')
    (keep), backprop deltas (2 wm), S, the Laplacian of S, g = d rho / d S (F each),
    rho's hidden (h, h'), its layers' deltas, the curvature's buffers (2 N d wrm +
    2 wrm) and dS/dx (N d F); wm, wrm: the widest layer of phi/psi and of rho."""
    return (int(c[13]), int(c[14]), int(c[15]), int(c[16]), int(c[17]), int(c[18]),
            int(c[19]), int(c[20]), int(c[21]), int(c[22]), int(c[23]))


@inline
def _neural_cache(c, cb):
    # offsets in a walker's cache: phi, phi' (N K), psi, psi' (P K), S, ln J, g, then
    # the proposal's phi, phi' (K), psi, psi' of k's pairs ((N - 1) K), S, ln J, g
    return (cb, cb + int(c[24]), cb + int(c[25]), cb + int(c[26]), cb + int(c[27]),
            cb + int(c[28]), cb + int(c[29]), cb + int(c[30]), cb + int(c[31]),
            cb + int(c[32]))


@inline
def _t_one(c, x, i, d):
    # t_i = |x_i|^2 / L^2
    t = 0.0
    for a in range(d):
        t += x[i, a] * x[i, a]
    return t * c[0]


@inline
def _t_pair(c, x, i, j, d):
    # t_ij = r_ij^2 / L^2
    t = 0.0
    for a in range(d):
        t += _sq(x[i, a] - x[j, a])
    return t * c[0]


@inline
def _pair_index(i, j, n):
    lo, hi = min(i, j), max(i, j)
    return lo * n - lo * (lo + 1) // 2 + hi - lo - 1


@jit
def _scalar_net(c, ws, ls, params, channels, row, t, order, work, wm, keep):
    """phi or psi (first-layer row ``row``) of one input t: its K features, and to
    ``order`` their first and second t-derivatives, in work at the offset returned
    (values, then + wm, + 2 wm); keep >= 0: each layer's (h, 1 - h^2) from work[keep]."""
    m0 = int(c[ws])
    w0, b0 = params + row * m0, params + (channels + row) * m0
    cur = 0
    for j in range(m0):
        wj = c[w0 + j]
        h = _tanh(t * wj + c[b0 + j])
        s = 1.0 - h * h
        work[j] = h
        if order >= 1:
            work[wm + j] = s * wj
            if order >= 2:
                work[2 * wm + j] = -2.0 * h * s * wj * wj
        if keep >= 0:
            work[keep + j] = h
            work[keep + m0 + j] = s
    at, prev, kept = params + 2 * channels * m0, m0, keep + 2 * m0
    for layer in range(1, ls):
        m = int(c[ws + layer])
        nxt = 3 * wm - cur
        for j in range(m):
            z, dz, d2z = c[at + prev * m + j], 0.0, 0.0
            for i in range(prev):
                wij = c[at + i * m + j]
                z += work[cur + i] * wij
                if order >= 1:
                    dz += work[cur + wm + i] * wij
                    if order >= 2:
                        d2z += work[cur + 2 * wm + i] * wij
            h = _tanh(z)
            s = 1.0 - h * h
            work[nxt + j] = h
            if order >= 1:
                work[nxt + wm + j] = s * dz
                if order >= 2:
                    work[nxt + 2 * wm + j] = s * (d2z - 2.0 * h * dz * dz)
            if keep >= 0:
                work[kept + j] = h
                work[kept + m + j] = s
        at += prev * m + m
        kept += 2 * m
        prev = m
        cur = nxt
    return cur


@jit
def _scalar_backprop(c, ws, ls, params, channels, row, t, work, keep, dl, wm, cot, scale,
                     out, ot, ow, obase):
    """Add scale cot . d features / d params (cot: work[cot : cot + K]) of one input t
    into out[ot, ow, obase + ...], from the layers :func:`_scalar_net` kept."""
    at, kept = params + 2 * channels * int(c[ws]), keep
    for layer in range(1, ls):  # the last layer's parameters and activations
        at += int(c[ws + layer - 1]) * int(c[ws + layer]) + int(c[ws + layer])
        kept += 2 * int(c[ws + layer - 1])
    m = int(c[ws + ls - 1])
    cur = dl
    for j in range(m):
        work[cur + j] = scale * work[cot + j] * work[kept + m + j]
    for layer in range(ls - 1, 0, -1):
        prev = int(c[ws + layer - 1])
        at -= prev * m + m
        kept -= 2 * prev
        nxt = 2 * dl + wm - cur
        o = obase + at - params
        for i in range(prev):
            hi, v = work[kept + i], 0.0
            for j in range(m):
                out[ot, ow, o + i * m + j] += hi * work[cur + j]
                v += c[at + i * m + j] * work[cur + j]
            work[nxt + i] = v * work[kept + prev + i]
        for j in range(m):
            out[ot, ow, o + prev * m + j] += work[cur + j]
        cur, m = nxt, prev
    for j in range(m):
        out[ot, ow, obase + row * m + j] += t * work[cur + j]
        out[ot, ow, obase + (channels + row) * m + j] += work[cur + j]


@inline
def _rho_layer(c, wr, params, layer):
    # the offset of rho's layer ``layer`` and of its hidden activations' (h, h') block
    at, acts = params, 0
    for q in range(layer):
        m = int(c[wr + q + 1])
        at += int(c[wr + q]) * m + m
        acts += 2 * m if q < layer - 1 else 0
    return at, acts


@jit
def _rho(c, wr, lr, params, wt, work, so, racts, dr, go):
    """rho(S) of S at work[so]; its hidden (h, h') from work[racts], each layer's
    output delta (d rho / d output) from work[dr], and g = d rho / d S at work[go]."""
    inputs, width, at, kept = so, int(c[wr]), params, racts
    value = 0.0
    for layer in range(lr):
        m = int(c[wr + layer + 1])
        for j in range(m):
            z = c[at + width * m + j]
            if layer == 0:  # W0^T's row j (views: see _rho_curvature)
                row = wt + j * width
                s, weights = work[inputs : inputs + width], c[row : row + width]
                for i in range(width):
                    z += s[i] * weights[i]
            else:
                for i in range(width):
                    z += work[inputs + i] * c[at + i * m + j]
            if layer == lr - 1:
                value = z
            else:
                h = _tanh(z)
                work[kept + j] = h
                work[kept + m + j] = 1.0 - h * h
        if layer < lr - 1:
            inputs, kept = kept, kept + 2 * m
        at += width * m + m
        width = m
    # backward: the output's delta is 1; deltas of layer l's outputs at dr + sum_{q<l} w_q+1
    delta = dr
    for layer in range(lr - 1):
        delta += int(c[wr + layer + 1])
    work[delta] = 1.0
    for layer in range(lr - 1, -1, -1):
        width, m = int(c[wr + layer]), int(c[wr + layer + 1])
        at, acts = _rho_layer(c, wr, params, layer)
        below = go if layer == 0 else delta - width
        deltas = work[delta : delta + m]  # views: see _rho_curvature
        for i in range(width):
            v, weights = 0.0, c[at + i * m : at + i * m + m]
            for j in range(m):
                v += weights[j] * deltas[j]
            work[below + i] = v if layer == 0 else v * work[racts + acts + width + i]
        delta = below
    return value


@jit
def _rho_curvature(c, wr, lr, params, wt, work, uo, directions, racts, cv, wrm):
    """sum_D u_D^T (d^2 rho / dS^2) u_D over the directions u_D = work[uo + D F ...]:
    forward mode along every direction, layer by layer."""
    if lr == 1:  # rho is linear
        return 0.0
    f, m1 = int(c[wr]), int(c[wr + 1])
    t, tt = cv, cv + directions * wrm  # (directions, wrm) each: d z and d^2 z
    a, b = tt + directions * wrm, tt + directions * wrm + wrm
    # views: indexing at offsets inside one array kept this product scalar (5x slower)
    us, weights = work[uo : uo + directions * f], c[wt : wt + m1 * f]
    for direction in range(directions):
        row = t + direction * wrm
        for j in range(m1):
            v = 0.0
            for i in range(f):
                v += us[direction * f + i] * weights[j * f + i]
            work[row + j] = v
    width = m1
    for layer in range(1, lr):
        at, acts = _rho_layer(c, wr, params, layer)
        h, s = racts + acts, racts + acts + width
        m = int(c[wr + layer + 1])
        for direction in range(directions):
            row, row2 = t + direction * wrm, tt + direction * wrm
            for i in range(width):
                ti, si = work[row + i], work[s + i]
                second = -2.0 * work[h + i] * si * ti * ti
                work[a + i] = second if layer == 1 else second + si * work[row2 + i]
                work[b + i] = si * ti
            for j in range(m):
                va, vb = 0.0, 0.0
                for i in range(width):
                    va += work[a + i] * c[at + i * m + j]
                    vb += work[b + i] * c[at + i * m + j]
                work[row2 + j] = va
                work[row + j] = vb
        width = m
    total = 0.0
    for direction in range(directions):
        total += work[tt + direction * wrm]
    return total


@jit
def _neural_pool(c, x, work, n, d, order, keep_u):
    """S into work[so] (and with order 2 its Laplacian into work[lo]; with keep_u,
    dS/dx into work[uo], (N d, F))."""
    k, channels, ls, lr, ws, wr, pc, pw, wt, phi, psi, rho = _neural_header(c)
    keep, dl, so, lo, go, racts, dr, cv, uo, wm, wrm = _neural_work(c)
    f = k * (1 + channels)
    cc = 2.0 * c[0]
    for q in range(f):
        work[so + q] = 0.0
        work[lo + q] = 0.0
    if keep_u:
        for q in range(n * d * f):
            work[uo + q] = 0.0
    for i in range(n):
        t = _t_one(c, x, i, d)
        at = _scalar_net(c, ws, ls, phi, 1, 0, t, order, work, wm, -1)
        for q in range(k):
            work[so + q] += work[at + q] / n
            if order >= 2:
                work[lo + q] += cc * (2.0 * t * work[at + 2 * wm + q] + d * work[at + wm + q]) / n
            if keep_u:
                for a in range(d):
                    work[uo + (i * d + a) * f + q] += (cc / n) * work[at + wm + q] * x[i, a]
    pair = 0
    for i in range(n):
        for j in range(i + 1, n):
            t = _t_pair(c, x, i, j, d)
            row, weight = int(c[pc + pair]), c[pw + pair]
            at = _scalar_net(c, ws, ls, psi, channels, row, t, order, work, wm, -1)
            col = k * (1 + row)
            for q in range(k):
                work[so + col + q] += weight * work[at + q]
                if order >= 2:
                    second = 2.0 * t * work[at + 2 * wm + q] + d * work[at + wm + q]
                    work[lo + col + q] += 2.0 * cc * weight * second
                if keep_u:
                    slope = cc * weight * work[at + wm + q]
                    for a in range(d):
                        v = slope * (x[i, a] - x[j, a])
                        work[uo + (i * d + a) * f + col + q] += v
                        work[uo + (j * d + a) * f + col + q] -= v
            pair += 1


@jit
def neural(c, x, grad, work, n, d):
    """ln J, its Laplacian g . lap S + sum_D u_D^T H u_D, its gradient added into grad."""
    k, channels, ls, lr, ws, wr, pc, pw, wt, phi, psi, rho = _neural_header(c)
    keep, dl, so, lo, go, racts, dr, cv, uo, wm, wrm = _neural_work(c)
    f = k * (1 + channels)
    _neural_pool(c, x, work, n, d, 2, True)
    log = _rho(c, wr, lr, rho, wt, work, so, racts, dr, go)
    lap = 0.0
    for q in range(f):
        lap += work[go + q] * work[lo + q]
    g = work[go : go + f]  # views: see _rho_curvature
    for i in range(n):
        for a in range(d):
            v, u = 0.0, work[uo + (i * d + a) * f : uo + (i * d + a + 1) * f]
            for q in range(f):
                v += u[q] * g[q]
            grad[i, a] += v
    return log, lap + _rho_curvature(c, wr, lr, rho, wt, work, uo, n * d, racts, cv, wrm)


@jit
def neural_params(c, x, out, t, w, base, work, n, d):
    """d ln J / d p: rho's by backprop from its output, phi's and psi's from g = d rho / dS."""
    k, channels, ls, lr, ws, wr, pc, pw, wt, phi, psi, rho = _neural_header(c)
    keep, dl, so, lo, go, racts, dr, cv, uo, wm, wrm = _neural_work(c)
    _neural_pool(c, x, work, n, d, 0, False)
    _rho(c, wr, lr, rho, wt, work, so, racts, dr, go)
    delta = dr
    for layer in range(lr):  # rho: d out / d W_l[i, j] = input_i delta_j
        width, m = int(c[wr + layer]), int(c[wr + layer + 1])
        at, acts = _rho_layer(c, wr, rho, layer)
        inputs = so if layer == 0 else racts + acts
        o = base + at - phi
        for i in range(width):
            for j in range(m):
                out[t, w, o + i * m + j] = work[inputs + i] * work[delta + j]
        for j in range(m):
            out[t, w, o + width * m + j] = work[delta + j]
        delta += m
    for q in range(rho - phi):
        out[t, w, base + q] = 0.0
    for i in range(n):
        tv = _t_one(c, x, i, d)
        _scalar_net(c, ws, ls, phi, 1, 0, tv, 0, work, wm, keep)
        _scalar_backprop(c, ws, ls, phi, 1, 0, tv, work, keep, dl, wm, go, 1.0 / n,
                         out, t, w, base)
    pair = 0
    for i in range(n):
        for j in range(i + 1, n):
            tv = _t_pair(c, x, i, j, d)
            row = int(c[pc + pair])
            _scalar_net(c, ws, ls, psi, channels, row, tv, 0, work, wm, keep)
            _scalar_backprop(c, ws, ls, psi, channels, row, tv, work, keep, dl, wm,
                             go + k * (1 + row), c[pw + pair], out, t, w, base + psi - phi)
            pair += 1


# single-particle moves: per walker, phi and phi' of every particle, psi and psi' of
# every pair, S, ln J and g in the cache (:func:`_neural_cache`); moving particle k
# evaluates phi once and psi on its N - 1 pairs, and S changes by their differences


@jit
def neural_cache(c, x, cache, w, cb, work, n, d):
    """Walker w's phi, psi, their slopes, S, ln J and g at x into its cache."""
    k, channels, ls, lr, ws, wr, pc, pw, wt, phi, psi, rho = _neural_header(c)
    keep, dl, so, lo, go, racts, dr, cv, uo, wm, wrm = _neural_work(c)
    cphi, cdphi, cpsi, cdpsi, cs, _, _, _, _, _ = _neural_cache(c, cb)
    f = k * (1 + channels)
    for q in range(f):
        work[so + q] = 0.0
    for i in range(n):
        at = _scalar_net(c, ws, ls, phi, 1, 0, _t_one(c, x, i, d), 1, work, wm, -1)
        for q in range(k):
            cache[w, cphi + i * k + q] = work[at + q]
            cache[w, cdphi + i * k + q] = work[at + wm + q]
            work[so + q] += work[at + q] / n
    pair = 0
    for i in range(n):
        for j in range(i + 1, n):
            row, weight = int(c[pc + pair]), c[pw + pair]
            at = _scalar_net(c, ws, ls, psi, channels, row, _t_pair(c, x, i, j, d), 1, work, wm,
                             -1)
            for q in range(k):
                cache[w, cpsi + pair * k + q] = work[at + q]
                cache[w, cdpsi + pair * k + q] = work[at + wm + q]
                work[so + k * (1 + row) + q] += weight * work[at + q]
            pair += 1
    cache[w, cs + f] = _rho(c, wr, lr, rho, wt, work, so, racts, dr, go)
    for q in range(f):
        cache[w, cs + q] = work[so + q]
        cache[w, cs + f + 1 + q] = work[go + q]


@jit
def neural_move(c, x, k, gk, work, cache, w, cb, n, d, before):
    """ln J with particle k at x[k] and k's gradient into gk: ``before`` its move, from
    the cache; else proposed, S updated by k's differences, the proposal's rows kept
    for :func:`neural_accept`."""
    kf, channels, ls, lr, ws, wr, pc, pw, wt, phi, psi, rho = _neural_header(c)
    keep, dl, so, lo, go, racts, dr, cv, uo, wm, wrm = _neural_work(c)
    cphi, cdphi, cpsi, cdpsi, cs, pphi, pdphi, ppsi, pdpsi, ps = _neural_cache(c, cb)
    f = kf * (1 + channels)
    cc = 2.0 * c[0]
    if before:
        slopes, pair_slopes, g, log = cdphi + k * kf, -1, cs + f + 1, cache[w, cs + f]
    else:
        at = _scalar_net(c, ws, ls, phi, 1, 0, _t_one(c, x, k, d), 1, work, wm, -1)
        for q in range(f):
            work[so + q] = cache[w, cs + q]
        for q in range(kf):
            cache[w, pphi + q] = work[at + q]
            cache[w, pdphi + q] = work[at + wm + q]
            work[so + q] += (work[at + q] - cache[w, cphi + k * kf + q]) / n
        other = 0
        for j in range(n):
            if j == k:
                continue
            pair = _pair_index(k, j, n)
            row, weight = int(c[pc + pair]), c[pw + pair]
            at = _scalar_net(c, ws, ls, psi, channels, row, _t_pair(c, x, k, j, d), 1, work, wm,
                             -1)
            col = kf * (1 + row)
            for q in range(kf):
                cache[w, ppsi + other * kf + q] = work[at + q]
                cache[w, pdpsi + other * kf + q] = work[at + wm + q]
                work[so + col + q] += weight * (work[at + q] - cache[w, cpsi + pair * kf + q])
            other += 1
        log = _rho(c, wr, lr, rho, wt, work, so, racts, dr, go)
        cache[w, ps + f] = log
        for q in range(f):
            cache[w, ps + q] = work[so + q]
            cache[w, ps + f + 1 + q] = work[go + q]
        slopes, pair_slopes, g = pdphi, pdpsi, ps + f + 1
    one = 0.0
    for q in range(kf):
        one += cache[w, g + q] * cache[w, slopes + q]
    one *= cc / n
    for a in range(d):
        gk[a] += one * x[k, a]
    other = 0
    for j in range(n):
        if j == k:
            continue
        pair = _pair_index(k, j, n)
        row = int(c[pc + pair])
        rows = cdpsi + pair * kf if pair_slopes < 0 else pair_slopes + other * kf
        two = 0.0
        for q in range(kf):
            two += cache[w, rows + q] * cache[w, g + kf * (1 + row) + q]
        two *= cc * c[pw + pair]
        for a in range(d):
            gk[a] += two * (x[k, a] - x[j, a])
        other += 1
    return log


@jit
def neural_accept(c, k, cache, w, cb, n):
    """The proposal's rows into walker w's cache after particle k's accepted move."""
    kf, f = int(c[1]), int(c[1]) * (1 + int(c[2]))
    cphi, cdphi, cpsi, cdpsi, cs, pphi, pdphi, ppsi, pdpsi, ps = _neural_cache(c, cb)
    for q in range(kf):
        cache[w, cphi + k * kf + q] = cache[w, pphi + q]
        cache[w, cdphi + k * kf + q] = cache[w, pdphi + q]
    other = 0
    for j in range(n):
        if j == k:
            continue
        pair = _pair_index(k, j, n)
        for q in range(kf):
            cache[w, cpsi + pair * kf + q] = cache[w, ppsi + other * kf + q]
            cache[w, cdpsi + pair * kf + q] = cache[w, pdpsi + other * kf + q]
        other += 1
    for q in range(2 * f + 1):
        cache[w, cs + q] = cache[w, ps + q]


# --- the Hamiltonian and the moves


@inline
def local_energy(ham, x, grad, lap, n, d):
    """E_L = -(lap + |grad|^2) / 2 + V; ham: [coulomb flag, omega^2 per axis (d)]."""
    energy = lap
    for i in range(n):
        for a in range(d):
            energy += grad[i, a] * grad[i, a]
    energy *= -0.5
    trap = 0.0
    for i in range(n):
        for a in range(d):
            trap += ham[1 + a] * x[i, a] * x[i, a]
    energy += 0.5 * trap
    if ham[0]:
        for i in range(n):
            for j in range(i + 1, n):
                energy += 1.0 / _distance(x, i, j, d)
    return energy


@inline
def _velocity_factor(g, limit, dt, d):
    # Umrigar's limit of the drift velocity g of one particle (1 without a limit)
    if not limit:
        return 1.0
    v2 = 0.0
    for a in range(d):
        v2 += g[a] * g[a]
    return 2.0 / (math.sqrt(1.0 + 2.0 * limit * dt * v2) + 1.0)


@inline
def _copy(x, w, out, n, d):
    # walker w of x (W, N, d) into out (N, d)
    for i in range(n):
        for a in range(d):
            out[i, a] = x[w, i, a]


@inline
def _histogram(hist, edges, value, scale):
    # numpy.histogram's rule for equal bins (a guess, then the edges decide), so both
    # paths count alike; branch-free arithmetic and one unconditional write (a branch
    # around an array write cost 40 ns here)
    bins = hist.size
    inside = 1.0 if edges[0] <= value <= edges[bins] else 0.0
    guess = (value - edges[0]) * scale
    if not guess >= 0.0:  # below the range, or NaN
        guess = 0.0
    i = min(int(min(guess, bins - 1.0)), bins - 1)
    i -= int(value < edges[i]) & int(i > 0)
    i += int(value >= edges[i + 1]) & int(i != bins - 1)
    hist[i] += inside


@inline
def _count(x, radial, radial_edges, pair, pair_edges, n, d):
    radial_scale = radial.size / (radial_edges[radial.size] - radial_edges[0])
    pair_scale = pair.size / (pair_edges[pair.size] - pair_edges[0])
    for i in range(n):
        r2 = 0.0
        for a in range(d):
            r2 += x[i, a] * x[i, a]
        _histogram(radial, radial_edges, math.sqrt(r2), radial_scale)
        for j in range(i + 1, n):
            _histogram(pair, pair_edges, _distance(x, i, j, d), pair_scale)


# --- templates of the generated modules (nqsflow.vmc.fused): compiled only there, with
# the module's own straight-line ``evaluate`` and ``particle`` and its move constants

SINGLE = LANGEVIN = False  # single-particle moves, Langevin proposals
N = D = 0  # particles and dimensions: constants, so that the small loops unroll
WORK = 1  # the size of the factors' scratch array
CACHE = 1  # per walker: what factors carry through a sweep of single-particle moves


def evaluate(c, o, x, grad, work):
    """ln psi and its Laplacian of one walker x (N, d), its gradient into grad."""
    raise NotImplementedError("a placeholder: fused.py generates the composed kernel")


def particle(c, o, x, k, gk, work, cache, w, before):
    """A function of particle k whose change over its move is that of ln psi, its
    gradient into gk; ``before``: at the old position (else the proposed one, whose
    ratio a factor with a cache keeps for :func:`accept`)."""
    raise NotImplementedError("a placeholder: fused.py generates the composed kernel")


def init_cache(c, o, x, cache, w, work):
    """Walker w's cache (factors that carry one through a sweep) from its positions x."""
    raise NotImplementedError("a placeholder: fused.py generates the composed kernel")


def accept(c, o, k, cache, w, work):
    """Walker w's cache after the accepted move of particle k."""
    raise NotImplementedError("a placeholder: fused.py generates the composed kernel")


def derivatives(c, o, x, out, t, w, work):
    """d ln psi / d p of one walker x (N, d) into out[t, w] (P,)."""
    raise NotImplementedError("a placeholder: fused.py generates the composed kernel")


def run_block(rng, consts, offsets, ham, step, limit, thin, fresh, x, log_psi, grad,
              energies, derivs, positions, radial, radial_edges, pair, pair_edges):
    """Advance one block of walkers x (B, N, d) by rounds of ``thin`` moves.

    ``log_psi`` (B,) and, for all-particle Langevin, ``grad`` (B, N, d) hold the
    walkers' current values and are updated; with ``fresh`` they are computed
    first (the parameters changed).  After each round, E_L of every walker goes
    to ``energies`` (rounds, B) when it has columns, d ln psi / d p to
    ``derivs`` (rounds, B, P) when it has rows, the positions to ``positions``
    (rounds, B, N, d) when it has rows, and the radial and pair distances into
    the histograms when they have bins.  All-particle moves evaluate E_L with
    each proposal (it rides along with the gradient), so a measurement costs
    nothing more.  Returns the number of accepted moves.
    """
    b, n, d = x.shape[0], N, D
    rounds = max(energies.shape[0], positions.shape[0], derivs.shape[0])
    work = np.empty(WORK)
    cache = np.empty((b if SINGLE and CACHE > 1 else 0, CACHE))
    y, gy, shift = np.empty((n, d)), np.empty((n, d)), np.empty((n, d))
    gk_old, gk_new, xo, sk = np.empty(d), np.empty(d), np.empty(d), np.empty(d)
    local = np.zeros(b)
    normal = np.empty(b * d) if SINGLE else np.empty(b * n * d)
    uniform = np.empty(b)
    sqrt_dt = math.sqrt(step)
    accepted = 0
    measure = energies.shape[1] > 0
    if (measure or fresh) and not SINGLE:
        for w in range(b):
            _copy(x, w, y, n, d)
            lg, lap = evaluate(consts, offsets, y, gy, work)
            local[w] = local_energy(ham, y, gy, lap, n, d)
            if fresh:
                log_psi[w] = lg
                for i in range(n):
                    for a in range(d):
                        grad[w, i, a] = gy[i, a]
    for t in range(rounds):
        for _ in range(thin):
            if SINGLE:
                if CACHE > 1:  # fresh caches each sweep: the updates' round-off stays small
                    for w in range(b):
                        _copy(x, w, y, n, d)
                        init_cache(consts, offsets, y, cache, w, work)
                for k in range(n):
                    for q in range(normal.size):
                        normal[q] = rng.standard_normal()
                    for w in range(b):
                        uniform[w] = rng.random()
                    for w in range(b):
                        xw = y  # walker w in scratch: views of x cost reference counts
                        _copy(x, w, xw, n, d)
                        old = particle(consts, offsets, xw, k, gk_old, work, cache, w, True)
                        f = step * _velocity_factor(gk_old, limit, step, d) if LANGEVIN else 0.0
                        for a in range(d):
                            xo[a] = xw[k, a]
                            if LANGEVIN:
                                sk[a] = f * gk_old[a]
                                xw[k, a] = xo[a] + sk[a] + sqrt_dt * normal[w * d + a]
                            else:
                                xw[k, a] = xo[a] + step * normal[w * d + a]
                        new = particle(consts, offsets, xw, k, gk_new, work, cache, w, False)
                        ratio = 2.0 * (new - old)
                        if LANGEVIN:
                            f = step * _velocity_factor(gk_new, limit, step, d)
                            forward, backward = 0.0, 0.0
                            for a in range(d):
                                forward += _sq(xw[k, a] - xo[a] - sk[a])
                                backward += _sq(xo[a] - xw[k, a] - f * gk_new[a])
                            ratio += (forward - backward) / (2.0 * step)
                        if np.log(uniform[w]) < ratio:  # NaN (inside a hard core): rejected
                            accepted += 1
                            for a in range(d):
                                x[w, k, a] = xw[k, a]
                            if CACHE > 1:
                                accept(consts, offsets, k, cache, w, work)
            else:
                for q in range(normal.size):
                    normal[q] = rng.standard_normal()
                for w in range(b):
                    uniform[w] = rng.random()
                for w in range(b):
                    # indices, not views of walker w: a view costs atomic reference counts
                    q = w * n * d
                    for i in range(n):
                        f = step
                        if LANGEVIN and limit:
                            v2 = 0.0
                            for a in range(d):
                                v2 += grad[w, i, a] * grad[w, i, a]
                            f *= 2.0 / (math.sqrt(1.0 + 2.0 * limit * step * v2) + 1.0)
                        for a in range(d):
                            if LANGEVIN:
                                shift[i, a] = f * grad[w, i, a]
                                y[i, a] = x[w, i, a] + shift[i, a] + sqrt_dt * normal[q]
                            else:
                                y[i, a] = x[w, i, a] + step * normal[q]
                            q += 1
                    lg, lap = evaluate(consts, offsets, y, gy, work)
                    ratio = 2.0 * (lg - log_psi[w])
                    if LANGEVIN:
                        forward, backward = 0.0, 0.0
                        for i in range(n):
                            f = step * _velocity_factor(gy[i], limit, step, d)
                            for a in range(d):
                                forward += _sq(y[i, a] - x[w, i, a] - shift[i, a])
                                backward += _sq(x[w, i, a] - y[i, a] - f * gy[i, a])
                        ratio += (forward - backward) / (2.0 * step)
                    if np.log(uniform[w]) < ratio:  # NaN (inside a hard core): rejected
                        accepted += 1
                        log_psi[w] = lg
                        for i in range(n):
                            for a in range(d):
                                x[w, i, a] = y[i, a]
                                grad[w, i, a] = gy[i, a]
                        local[w] = local_energy(ham, y, gy, lap, n, d)
        for w in range(b):
            _copy(x, w, y, n, d)
            if measure:
                if SINGLE:
                    lg, lap = evaluate(consts, offsets, y, gy, work)
                    local[w] = local_energy(ham, y, gy, lap, n, d)
                energies[t, w] = local[w]
            if derivs.shape[0]:
                derivatives(consts, offsets, y, derivs, t, w, work)
            if positions.shape[0]:
                for i in range(n):
                    for a in range(d):
                        positions[t, w, i, a] = y[i, a]
            if radial.size:
                _count(y, radial, radial_edges, pair, pair_edges, n, d)
    return accepted


def local_terms_batch(consts, offsets, ham, x, energy, out):
    """E_L (W,) into energy and d ln psi / d p (1, W, P) into out, of walkers x (W, N, d)."""
    work = np.empty(WORK)
    y, gy = np.empty((N, D)), np.empty((N, D))
    for w in range(x.shape[0]):
        _copy(x, w, y, N, D)
        lg, lap = evaluate(consts, offsets, y, gy, work)
        energy[w] = local_energy(ham, y, gy, lap, N, D)
        derivatives(consts, offsets, y, out, 0, w, work)


def evaluate_batch(consts, offsets, ham, x):
    """ln psi (W,), gradient (W, N, d), Laplacian (W,) and E_L (W,) of walkers x (W, N, d)."""
    walkers = x.shape[0]
    log, lap, energy = np.empty(walkers), np.empty(walkers), np.empty(walkers)
    grad = np.zeros(x.shape)
    work = np.empty(WORK)
    for w in range(walkers):
        log[w], lap[w] = evaluate(consts, offsets, x[w], grad[w], work)
        energy[w] = local_energy(ham, x[w], grad[w], lap[w], N, D)
    return log, grad, lap, energy
