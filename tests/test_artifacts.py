"""HDF5 artifacts: round trip, provenance, atomic writes, schema errors."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from nqsflow.artifacts import (
    config_of,
    inputs_of,
    provenance,
    read_artifact,
    sha256,
    write_artifact,
)
from nqsflow.errors import ArtifactError, SchemaMismatchError


def test_round_trip_keeps_data_attrs_and_provenance(tmp_path):
    source = tmp_path / "in.h5"
    write_artifact(source, {"x": np.arange(3)}, provenance("nqsflow.test/1", {}))
    tree = {
        "group": {"@attrs": {"energy": 3.0, "names": ["a", "b"]}, "values": np.linspace(0, 1, 5)},
        "labels": np.array(["train", "test"]),
        "matrix": np.eye(2),
    }
    attrs = provenance("nqsflow.test/1", {"k": 1, "nested": {"a": [1, 2]}}, seed=5, mpi_ranks=2,
                       inputs=[source])
    path = write_artifact(tmp_path / "out.h5", tree, attrs)
    back = read_artifact(path, schema="nqsflow.test/1")
    np.testing.assert_array_equal(back["group"]["values"], tree["group"]["values"])
    np.testing.assert_array_equal(back["matrix"], np.eye(2))
    assert list(back["labels"]) == ["train", "test"]
    assert back["group"]["@attrs"]["energy"] == 3.0
    root = back["@attrs"]
    for key in ("schema", "nqsflow_version", "created", "config", "seed", "mpi_ranks", "inputs"):
        assert key in root, key
    assert root["created"].endswith("+00:00")
    assert root["seed"] == 5 and root["mpi_ranks"] == 2
    assert config_of(back) == {"k": 1, "nested": {"a": [1, 2]}}
    assert inputs_of(back) == [{"path": str(source), "sha256": sha256(source)}]
    assert len(root["git_revision"]) == 40  # the tests run inside the git checkout


def test_schema_prefix_accepts_any_version(tmp_path):
    path = write_artifact(tmp_path / "a.h5", {}, provenance("nqsflow.vmc/7", {}))
    read_artifact(path, schema="nqsflow.vmc")
    with pytest.raises(SchemaMismatchError, match="expected 'nqsflow.vmc/1'"):
        read_artifact(path, schema="nqsflow.vmc/1")


def test_wrong_schema_names_the_file(tmp_path):
    path = write_artifact(tmp_path / "a.h5", {}, provenance("nqsflow.fit/1", {}))
    with pytest.raises(SchemaMismatchError) as info:
        read_artifact(path, schema="nqsflow.vmc")
    assert str(path) in str(info.value) and "nqsflow.fit/1" in str(info.value)


def test_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(ArtifactError, match="no such file"):
        read_artifact(tmp_path / "absent.h5")
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 20)
    with pytest.raises(ArtifactError, match="corrupt.h5: not a readable HDF5 file"):
        read_artifact(corrupt)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as h5:
        h5["x"] = 1
    with pytest.raises(SchemaMismatchError, match="no 'schema' attribute"):
        read_artifact(foreign)


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    path = write_artifact(tmp_path / "a.h5", {"x": np.ones(2)}, provenance("nqsflow.test/1", {}))
    before = sha256(path)

    class Unwritable:
        pass

    with pytest.raises(TypeError):
        write_artifact(path, {"x": np.zeros(2), "bad": Unwritable()},
                       provenance("nqsflow.test/1", {}))
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]
    with pytest.raises(TypeError):
        write_artifact(tmp_path / "new.h5", {"bad": Unwritable()}, provenance("nqsflow.test/1", {}))
    assert not (tmp_path / "new.h5").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]


def test_config_attribute_is_json(tmp_path):
    attrs = provenance("nqsflow.test/1", {"omega": np.float64(0.5), "grid": np.arange(2)})
    assert json.loads(attrs["config"]) == {"grid": [0, 1], "omega": 0.5}
    with pytest.raises(ValueError, match="schema"):
        write_artifact(tmp_path / "x.h5", {}, {"seed": 1})
