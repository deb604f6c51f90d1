"""One table of run-spec defaults: what the resolved spec says is what the builders use."""

from __future__ import annotations

import copy

import jsonschema
import numpy as np
import pytest

from nqsflow.config import _schemas, validate
from nqsflow.vmc.driver import VMC, build_vmc, run
from nqsflow.vmc.runspec import DEFAULTS, STEP, resolved_runspec

# the least each kind of run spec must say: every other key takes its default
MINIMAL = {
    "dot-metropolis-sgd": {
        "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        "ansatz": [{"kind": "gaussian"}, {"kind": "pade_jastrow"}],
        "sampler": {"kind": "metropolis"},
        "optimizer": {"kind": "sgd"},
        "production": {"samples": 1000},
        "seed": 1,
    },
    "bosons-langevin-sr": {
        "system": {"particles": 3, "dim": 3, "omega": 0.5, "interaction": "none"},
        "ansatz": [{"kind": "gaussian"}, {"kind": "rbm", "hidden": 2}],
        "sampler": {"kind": "langevin"},
        "optimizer": {"kind": "sr", "schedule": "cosine", "convergence": {"tolerance": 1e-4}},
        "production": {"samples": 1000},
        "seed": 2,
    },
    "six-electrons-langevin-adam": {  # nodes: single-particle sweeps and a drift limit
        "system": {"particles": 6, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        "ansatz": [{"kind": "slater"}, {"kind": "pade_jastrow"}],
        "sampler": {"kind": "langevin"},
        "optimizer": {"kind": "adam"},
        "production": {"samples": 1000},
        "seed": 3,
    },
}


def _built(vmc: VMC) -> dict:
    """Every setting a built run holds, as plain values."""
    trap, sampler, opt = vmc.hamiltonian, vmc.sampler, vmc.optimizer
    return {
        "vmc": (vmc.walkers, vmc.thin, vmc.block_size, vmc.clip),
        "system": (trap.omega, trap.particles, trap.dim, trap.interaction, trap.elliptic,
                   trap.radius, trap.spins),
        "sampler": (type(sampler), sampler.unit, sampler.step0, sampler.moves,
                    getattr(sampler, "drift_limit", None)),
        "optimizer": (type(opt), vars(opt.schedule), getattr(opt, "diag_shift", None)),
        "ansatz": (vmc.ansatz.param_names(),
                   list(vmc.ansatz.initial_params(np.random.default_rng(0)))),
    }  # fmt: skip


@pytest.mark.parametrize("name", list(MINIMAL))
def test_the_builders_take_exactly_the_resolved_values(name):
    spec = MINIMAL[name]
    resolved = resolved_runspec(spec)
    validate(resolved, "runspec")
    built = build_vmc(spec)
    assert _built(built) == _built(build_vmc(resolved))
    sampler, opt, system = resolved["sampler"], resolved["optimizer"], resolved["system"]
    assert built.walkers == sampler["walkers"] and built.thin == sampler["thin"]
    assert built.block_size == sampler["block_size"]
    assert built.clip == opt["clip_local_energy"]
    assert built.sampler.step0 == sampler["step"] and built.sampler.moves == sampler["moves"]
    assert getattr(built.sampler, "drift_limit", None) == sampler.get("drift_limit")
    schedule = built.optimizer.schedule
    assert (schedule.kind, schedule.initial, schedule.final, schedule.decay_steps) == (
        opt["schedule"], opt["learning_rate"], opt["final_learning_rate"], opt["decay_steps"]
    )
    assert getattr(built.optimizer, "diag_shift", None) == opt.get("diag_shift")
    assert built.hamiltonian.elliptic == system["elliptic"]
    assert built.hamiltonian.spins == (tuple(system["spins"]) if "spins" in system else None)


def test_a_run_passes_the_resolved_values_and_gives_the_numbers_of_the_resolved_spec(
    monkeypatch,
):
    spec = copy.deepcopy(MINIMAL["bosons-langevin-sr"])
    spec["sampler"]["walkers"] = 50  # the rest from the table: 100 SR steps of 2000 samples
    resolved = resolved_runspec(spec)
    seen = {}

    def spy(method):
        original = getattr(VMC, method)

        def wrapper(self, first, *args):  # first: the state, or init's seed
            seen[method] = args
            return original(self, first, *args)

        monkeypatch.setattr(VMC, method, wrapper)

    for method in ("init", "optimize", "produce"):
        spy(method)
    given = run(spec)
    opt, production = resolved["optimizer"], resolved["production"]
    assert seen["init"] == (resolved["sampler"]["burn_in"],)
    steps, samples, _, convergence, _, ratio = seen["optimize"]
    assert (steps, samples, ratio) == (opt["steps"], opt["samples"], opt["max_variance_ratio"])
    assert convergence == opt["convergence"]
    assert seen["produce"] == (production["samples"], production["bins"])
    filled = run(resolved)
    np.testing.assert_array_equal(given.params_final, filled.params_final)
    assert (given.energy, given.energy_error) == (filled.energy, filled.energy_error)


def test_every_default_is_a_key_of_the_schema_that_accepts_it():
    schema = _schemas()["runspec"]
    sections = {
        "system": schema["properties"]["system"],
        **{name: schema["$defs"][name] for name in ("sampler", "optimizer", "production")},
    }
    sections["convergence"] = sections["optimizer"]["properties"]["convergence"]
    for section, defaults in DEFAULTS.items():
        for key, value in defaults.items():
            rule = sections[section]["properties"][key]
            assert jsonschema.Draft202012Validator(rule).is_valid(value), (section, key)
    assert set(STEP) == set(sections["sampler"]["properties"]["kind"]["enum"])
