"""Observables accumulated over production samples: one-body and pair-distance histograms."""

from __future__ import annotations

import numpy as np

from nqsflow.vmc.geometry import pair_vectors


class Densities:
    """Histograms of each particle's distance from the trap centre and of the pair distances.

    The ranges come from the Hamiltonian (they grow with the cloud of occupied
    shells); :meth:`add` takes positions (S, N, d) chunk by chunk, so a long
    production never holds all its samples at once.
    """

    def __init__(self, hamiltonian, bins: int = 100):
        ranges = hamiltonian.histogram_ranges()
        self.radial_edges = np.linspace(0.0, ranges["radial"], bins + 1)
        self.pair_edges = np.linspace(0.0, ranges["pair"], bins + 1)
        self.radial = np.zeros(bins)
        self.pair = np.zeros(bins)

    def add(self, x: np.ndarray) -> None:
        """Count the samples ``x`` (S, N, d)."""
        self.radial += np.histogram(np.linalg.norm(x, axis=2), self.radial_edges)[0]
        if x.shape[1] > 1:
            self.pair += np.histogram(pair_vectors(x)[1], self.pair_edges)[0]

    def counts(self) -> np.ndarray:
        """This rank's radial and pair counts, concatenated (for one sum over ranks)."""
        return np.concatenate([self.radial, self.pair])

    def tree(self, summed: np.ndarray) -> dict[str, np.ndarray]:
        """Edges and counts summed over ranks (``summed`` as :meth:`counts` lays them out)."""
        bins = self.radial.size
        return {
            "radial_edges": self.radial_edges,
            "radial_counts": summed[:bins],
            "pair_edges": self.pair_edges,
            "pair_counts": summed[bins:],
        }
