"""Shared fixtures: the reference implementation (tiktoken, offline) and corpora.

tiktoken cannot download here, so it is pointed at a cache directory that
holds the same rank files tokenbytes ships, under the names tiktoken looks
for (sha1 of the download URL). tiktoken still verifies their sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TOKENBYTES_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"
CASES = SHARED / "cases" / "encoder_cases.json"
DATA = REPO / "python" / "tokenbytes" / "data"

#: The encodings that tiktoken itself can serve offline from our files.
TIKTOKEN_ENCODINGS = ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"]
BENCH_FILES = ["en_prose", "code", "multi_eu", "cjk"]

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("TOKENBYTES_MAX_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("TOKENBYTES_HYPOTHESIS_PROFILE", "ci"))


def _prepare_tiktoken_cache() -> None:
    cache_dir = Path(os.environ.get("TOKENBYTES_TEST_CACHE", "/tmp/tokenbytes-tiktoken-cache"))
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name in TIKTOKEN_ENCODINGS:
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(gzip.decompress((DATA / f"{name}.tiktoken.gz").read_bytes()))
            tmp.replace(target)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)


_prepare_tiktoken_cache()


@cache
def reference(name: str):  # -> tiktoken.Encoding
    """tiktoken's encoding `name`, loaded from the local cache."""
    import tiktoken

    return tiktoken.get_encoding(name)


@cache
def ours(name: str):  # -> tokenbytes.Encoding
    import tokenbytes

    return tokenbytes.get_encoding(name)


def bench_texts(category: str) -> list[str]:
    """All documents of one benchmark corpus file."""
    path = CORPUS / "bench" / f"{category}.jsonl"
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def udhr_texts() -> Iterator[tuple[str, str]]:
    for path in sorted((CORPUS / "udhr").glob("*.txt")):
        yield path.name, path.read_text(encoding="utf-8")


@pytest.fixture(params=TIKTOKEN_ENCODINGS)
def enc_name(request: pytest.FixtureRequest) -> str:
    return request.param


def pytest_report_header(config: pytest.Config) -> str:
    return f"shared corpus: {CORPUS} (exists: {CORPUS.exists()})"
