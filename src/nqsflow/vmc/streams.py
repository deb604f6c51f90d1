"""Random streams per block of walkers, so the chains do not depend on the rank count.

A :class:`WalkerStreams` looks like the few ``numpy.random.Generator`` methods
the samplers use (``standard_normal``, ``random``), but draws the values of each
block of ``block_size`` walkers (the leading axis) from the block's own stream,
``SeedSequence(seed, spawn_key=(g,))`` for global block index g.  With the total
number of walkers fixed, 1, 2 or 4 ranks then hold the same blocks and so run
the same Markov chains; only the order of the sums over ranks differs.  With one
block per rank (``block_size`` = walkers per rank) block g is rank g.
"""

from __future__ import annotations

import numpy as np

from nqsflow.errors import ConfigError


class WalkerStreams:
    """Per-block generators for the ``walkers`` of one rank."""

    def __init__(self, seed: int, walkers: int, block_size: int, rank: int):
        if block_size < 1 or walkers % block_size:
            raise ConfigError(
                f"key 'sampler.block_size': {block_size} must divide the walkers per rank "
                f"({walkers})"
            )
        self.block_size = block_size
        first = rank * (walkers // block_size)
        self.generators = [
            np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(first + b,)))
            for b in range(walkers // block_size)
        ]

    def _draw(self, method: str, shape) -> np.ndarray:
        shape = (shape,) if np.isscalar(shape) else tuple(shape)
        if len(self.generators) == 1:
            return getattr(self.generators[0], method)(shape)
        rest = shape[1:]
        return np.concatenate(
            [getattr(g, method)((self.block_size, *rest)) for g in self.generators]
        )

    def standard_normal(self, shape) -> np.ndarray:
        """Standard normal draws; ``shape[0]`` must be the number of walkers."""
        return self._draw("standard_normal", shape)

    def random(self, shape) -> np.ndarray:
        """Uniform draws in [0, 1); ``shape[0]`` must be the number of walkers."""
        return self._draw("random", shape)

    @property
    def state(self) -> list[dict]:
        """Bit-generator states of every block (for checkpoints)."""
        return [g.bit_generator.state for g in self.generators]

    @state.setter
    def state(self, states: list[dict]) -> None:
        if len(states) != len(self.generators):
            raise ValueError("checkpoint holds another number of walker blocks")
        for g, s in zip(self.generators, states, strict=True):
            g.bit_generator.state = s
