"""What a VMC run prints while it works: a start line, about 20 progress lines, the result."""

from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

import yaml

from nqsflow.vmc.__main__ import progress_line


def test_progress_line_says_where_the_run_is_and_how_long_it_has_left():
    stats = SimpleNamespace(energy=3.0012345, energy_error=0.0004, variance=1.5e-3, acceptance=0.52)
    line = progress_line(120, 600, stats, elapsed=70.4, left=280.2)
    assert line == (
        "step 120/600 (20%)  E = 3.001234 +- 0.000400  var = 1.500e-03  acc = 0.52"
        "  elapsed 0:01:10  left ~0:04:40"
    )
    assert "left" not in progress_line(600, 600, stats, elapsed=3700.0, left=None)
    assert "elapsed 1:01:40" in progress_line(600, 600, stats, elapsed=3700.0, left=None)


def test_a_run_prints_about_twenty_lines_whatever_its_length(tmp_path):
    spec = {
        "system": {"particles": 2, "dim": 2, "omega": 1.0, "interaction": "coulomb"},
        "ansatz": [{"kind": "gaussian"}, {"kind": "pade_jastrow", "beta": 0.4}],
        "sampler": {"kind": "langevin", "walkers": 50, "step": 0.3, "burn_in": 10},
        "optimizer": {"kind": "sgd", "learning_rate": 0.01, "steps": 130, "samples": 100},
        "production": {"samples": 1000},
        "seed": 2,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    proc = subprocess.run(
        [sys.executable, "-m", "nqsflow.vmc", str(path), "--out", str(tmp_path / "run.h5")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("2 particles in 2D, omega = 1; gaussian x pade_jastrow; 50 walkers")
    steps = [line for line in lines if line.startswith("step ")]
    # every 130 // 20 = 6 steps, and the last
    assert len(steps) == 22 and steps[-1].startswith("step 130/130 (100%)")
    assert all(re.search(r"elapsed \d+:\d\d:\d\d", line) for line in steps)
    assert all("left ~" in line for line in steps[1:-1])
    assert lines[-2] == "production: 1000 samples" and lines[-1].startswith("E = ")
