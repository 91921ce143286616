"""The field app's build (field/dist, made by `make field`) and its Node tool chain."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

FIELD = Path(__file__).resolve().parents[3] / "field"


def _need(what: str, ok: bool) -> None:
    if ok:
        return
    msg = f"{what}: run `make field` (Node 20 + npm), which `make test` does first"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true: " + msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def field_dist() -> Path:
    _need("field/dist is not built", (FIELD / "dist" / "index.html").is_file())
    return FIELD / "dist"


@pytest.fixture(scope="session")
def field_node() -> Path:
    _need("node or field/node_modules missing", shutil.which("node") is not None and (FIELD / "node_modules").is_dir())
    return FIELD
