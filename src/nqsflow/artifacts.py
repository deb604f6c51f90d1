"""HDF5 artifacts with provenance: the only module that reads or writes HDF5.

Every artifact carries root attributes ``schema`` (``nqsflow.<stage>/<version>``),
``nqsflow_version``, ``created`` (UTC ISO 8601), ``config`` (JSON of the resolved
stage config), ``seed``, ``mpi_ranks``, ``git_revision`` (when in a git checkout)
and ``inputs`` (JSON list of ``{path, sha256}`` of every input artifact).

An artifact is described in memory as nested dicts: a dict is a group, a numpy
array (or list) a dataset, and the special key ``"@attrs"`` holds the attributes
of the group it sits in.  Writes are atomic: a temporary file in the same folder
is renamed onto the final name only once it is complete and closed; the next
write of a name removes the temporaries that killed writes of it left.
"""

from __future__ import annotations

import datetime as _dt
import glob
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nqsflow import __version__
from nqsflow.errors import ArtifactError, SchemaMismatchError

ATTRS = "@attrs"
PROVENANCE_KEYS = (
    "schema",
    "nqsflow_version",
    "created",
    "config",
    "seed",
    "mpi_ranks",
    "git_revision",
    "inputs",
)


def sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_revision(start: str | os.PathLike | None = None) -> str | None:
    """Commit hash of the checkout holding ``start`` (default: this package), or None."""
    where = Path(start) if start is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    rev = out.stdout.strip()
    return rev if out.returncode == 0 and rev else None


def provenance(
    schema: str,
    config: Mapping[str, Any],
    *,
    seed: int | None = None,
    mpi_ranks: int = 1,
    inputs: Iterable[str | os.PathLike] = (),
) -> dict[str, Any]:
    """Root attributes for an artifact of ``schema`` made from ``config`` and ``inputs``."""
    attrs: dict[str, Any] = {
        "schema": schema,
        "nqsflow_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": json.dumps(config, sort_keys=True, default=_json_default),
        "seed": -1 if seed is None else int(seed),
        "mpi_ranks": int(mpi_ranks),
        "inputs": json.dumps(
            [{"path": str(p), "sha256": sha256(p)} for p in inputs], sort_keys=True
        ),
    }
    rev = git_revision()
    if rev is not None:
        attrs["git_revision"] = rev
    return attrs


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_artifact(
    path: str | os.PathLike, tree: Mapping[str, Any], attrs: Mapping[str, Any]
) -> Path:
    """Write ``tree`` (nested dicts of arrays) with root ``attrs`` atomically to ``path``.

    ``attrs`` must hold at least ``schema``; use :func:`provenance` to build it.
    The file is built in memory, written to a temporary name in the same folder,
    flushed to disk and only then renamed: a full disk, a file-size limit or a
    kill at any moment leaves no file under ``path`` (an older one stays whole).
    A failed write raises :class:`ArtifactError` naming ``path``; HDF5 itself
    never writes to the disk, so its failure modes (a crash on a full disk) are
    out of the way.
    """
    path = Path(path)
    if "schema" not in attrs:
        raise ValueError("artifact attributes need a 'schema'")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        _set_attrs(h5, attrs)
        _write_group(h5, tree)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_umask())  # as open() would: mkstemp makes it owner-only
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise ArtifactError(
            path, f"cannot write ({exc.strerror or exc}); nothing written under this name"
        ) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    remove_stale_temporaries(path)
    return path


def temporary_prefix(path: str | os.PathLike) -> str:
    """The name's start of a temporary file (or folder) for ``path``, beside it: hidden,
    and naming the host and the process that writes it (:func:`remove_stale_temporaries`).
    """
    return f".{Path(path).name}.{socket.gethostname()}-{os.getpid()}."


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``path`` that killed writes left beside it.

    Only those of this very name (``.{name}.{host}-{pid}.*.tmp``), made on this
    host by a process that is gone: another host's (a shared file system) and a
    live process's stay.  Called after a write of ``path`` succeeded; a leftover
    that cannot be removed is left alone.  Returns what was removed.
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?P<host>.+)-(?P<pid>\d+)\.[^.]+\.tmp")
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        found = pattern.fullmatch(candidate.name)
        if not found or found["host"] != socket.gethostname() or _alive(int(found["pid"])):
            continue
        try:
            if candidate.is_dir() and not candidate.is_symlink():
                shutil.rmtree(candidate)
            else:
                candidate.unlink()
        except OSError:
            continue
        removed.append(candidate)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _set_attrs(node, attrs: Mapping[str, Any]) -> None:
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, (dict, list, tuple)) and not _is_numeric_sequence(value):
            value = json.dumps(value, sort_keys=True, default=_json_default)
        node.attrs[key] = value


def _is_numeric_sequence(value) -> bool:
    if isinstance(value, dict):
        return False
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except (ValueError, TypeError):
        return False


def _write_group(group, tree: Mapping[str, Any]) -> None:
    for key, value in tree.items():
        if key == ATTRS:
            _set_attrs(group, value)
        elif isinstance(value, Mapping):
            _write_group(group.create_group(key), value)
        else:
            data = np.asarray(value)
            if data.dtype.kind == "U":
                data = data.astype(object)
                group.create_dataset(key, data=data, dtype=h5py.string_dtype())
            else:
                group.create_dataset(key, data=data)


def read_artifact(path: str | os.PathLike, schema: str | None = None) -> dict[str, Any]:
    """Read an artifact into nested dicts; check its schema if ``schema`` is given.

    ``schema`` may be the full name (``nqsflow.vmc/1``) or the stage prefix
    (``nqsflow.vmc``), which then accepts any version.  Raises
    :class:`ArtifactError` naming the file when it is missing, unreadable or of
    another schema.
    """
    path = Path(path)
    if not path.exists():
        raise ArtifactError(path, "no such file; run the stage that makes it first")
    try:
        with h5py.File(path, "r") as h5:
            tree = _read_group(h5)
    except OSError as exc:
        raise ArtifactError(path, f"not a readable HDF5 file ({exc})") from None
    found = tree[ATTRS].get("schema")
    if found is None:
        raise SchemaMismatchError(path, "has no 'schema' attribute: not an nqsflow artifact")
    if schema is not None:
        wanted_stage = schema.split("/")[0]
        if (found if "/" in schema else found.split("/")[0]) != (
            schema if "/" in schema else wanted_stage
        ):
            raise SchemaMismatchError(path, f"schema is {found!r}, expected {schema!r}")
    return tree


def _read_group(group) -> dict[str, Any]:
    out: dict[str, Any] = {ATTRS: {k: _attr_value(v) for k, v in group.attrs.items()}}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _read_group(item)
        else:
            data = item[()]
            if item.dtype.kind == "O" or h5py.check_string_dtype(item.dtype):
                data = np.asarray(item.asstr()[()])
            out[key] = data
    return out


def _attr_value(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def config_of(tree: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved stage config stored in an artifact read by :func:`read_artifact`."""
    return json.loads(tree[ATTRS]["config"])


def inputs_of(tree: Mapping[str, Any]) -> list[dict[str, str]]:
    """The ``[{path, sha256}]`` list of inputs stored in an artifact."""
    return json.loads(tree[ATTRS]["inputs"])
