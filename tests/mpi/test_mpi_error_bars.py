"""Real MPI: the autocorrelation error bar reduces over ranks to the serial one."""

from __future__ import annotations

import pytest

from .test_mpi_vmc import _one_and_two_ranks

pytestmark = pytest.mark.mpi


def test_two_ranks_report_the_error_tau_and_ess_of_one(dot_spec, tmp_path):
    # walker blocks give both runs the same chains: the error, tau and ESS, which sum
    # autocovariances over ranks, must then agree to round-off
    dot_spec["sampler"]["thin"] = 1
    dot_spec["optimizer"].update(steps=0)
    dot_spec["production"]["samples"] = 40000
    a, b = _one_and_two_ranks(dot_spec, 400, 100, tmp_path, rtol=1e-12)
    one, two = a["estimate"]["@attrs"], b["estimate"]["@attrs"]
    for key in ("energy_error", "variance", "tau", "ess"):
        assert two[key] == pytest.approx(one[key], rel=1e-10), key
    assert one["tau_window"] == two["tau_window"]
    assert 1.2 < one["tau"] < 4.0 and one["ess"] == pytest.approx(40000 / one["tau"])
