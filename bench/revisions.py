"""An earlier revision of this repository as files, for the benchmarks' --baseline runs."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def checkout(rev: str, into: Path) -> Path:
    """The files of revision `rev` (`git archive`), unpacked under into/src; this work tree is
    not touched."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "src.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "src", filter="data")
    archive.unlink()
    return into / "src"
