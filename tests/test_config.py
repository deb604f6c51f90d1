"""Configs and run specs: one-line errors naming the key; the ansatz registry."""

from __future__ import annotations

import numpy as np
import pytest

from nqsflow.config import check_study, point_name, runspec_for, study_points, validate
from nqsflow.errors import ConfigError
from nqsflow.vmc.driver import run
from nqsflow.vmc.wavefunctions import FACTORS, Factor


def test_default_study_is_valid_and_its_run_specs_too(study_config):
    check_study(study_config)
    points = study_points(study_config)
    assert [p.omega for p in points] == sorted(p.omega for p in points)
    for ansatz in study_config["vmc"]["ansatze"]:
        spec = runspec_for(study_config, ansatz, points[0].name)
        validate(spec, "runspec")
    assert point_name(0.5) == "omega0.5" and point_name(1.0) == "omega1"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["vmc"]["sampler"].update(walkers=0),
         "key 'vmc.sampler.walkers': 0 is less than the minimum of 1"),
        (lambda c: c["vmc"]["ansatze"]["rbm"][0].update(hiden=2),
         "key 'vmc.ansatze.rbm.0': Additional properties are not allowed ('hiden' was unexpected)"),
        (lambda c: c["vmc"]["ansatze"]["rbm"][0].update(kind="cnn"),
         "key 'vmc.ansatze.rbm.0.kind': 'cnn' is not one of"),
        (lambda c: c["vmc"]["optimizer"].update(kind="lbfgs"),
         "key 'vmc.optimizer.kind': 'lbfgs' is not one of ['sgd', 'adam', 'sr']"),
        (lambda c: c["design"]["test"].append(c["design"]["train"][0]),
         "key 'design.test': omega=0.2 is already a train point"),
        (lambda c: c.pop("seed"), "key '(top level)': 'seed' is a required property"),
    ],
)
def test_bad_study_configs_name_the_key(study_config, edit, message):
    edit(study_config)
    with pytest.raises(ConfigError) as info:
        check_study(study_config)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_new_ansatz_is_one_class():
    """A factor defined anywhere registers itself and runs without touching other code."""

    class Linear(Factor):  # ln psi = -c sum_i |r_i|, a cusp at the trap centre
        kind = "test_linear"
        n_params = 1

        @classmethod
        def from_spec(cls, system, **options):
            return cls()

        def initial_params(self, rng):
            return np.array([0.5])

        def param_names(self):
            return ["c"]

        def log_psi(self, p, x, pairs=None):
            return -p[0] * np.linalg.norm(x, axis=2).sum(1)

        def grad_lap(self, p, x, pairs=None):
            r = np.linalg.norm(x, axis=2, keepdims=True)
            return -p[0] * x / r, -p[0] * ((x.shape[2] - 1) / r[..., 0]).sum(1)

        def param_grad(self, p, x, pairs=None):
            return -np.linalg.norm(x, axis=2).sum(1)[:, None]

    try:
        assert FACTORS["test_linear"] is Linear
        spec = {
            "system": {"particles": 1, "dim": 3, "omega": 1.0, "interaction": "none"},
            "ansatz": [{"kind": "gaussian", "alpha": 1.0}, {"kind": "test_linear"}],
            "sampler": {"kind": "metropolis", "walkers": 200, "burn_in": 50},
            "optimizer": {"kind": "sr", "learning_rate": 0.1, "steps": 80, "samples": 2000},
            "production": {"samples": 20000},
            "seed": 2,
        }
        result = run(spec)
        # the exact ground state has c = 0: the optimiser must find it
        assert abs(result.params_final[1]) < 0.05
        assert result.energy == pytest.approx(1.5, abs=2e-3)
    finally:
        FACTORS.pop("test_linear", None)
