"""Sharing one Encoding across threads, fork after parallel use, spawn pickling."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

import tokenbytes
from conftest import ours


def test_b24_shared_instance_many_threads() -> None:
    enc = ours("cl100k_base")
    texts = [f"hello world {i} " * 50 for i in range(4000)]
    expected = [enc.encode(t) for t in texts]

    def work(i: int) -> list[int]:
        if i % 7 == 0:
            return enc.encode_batch([texts[i]], num_threads=2)[0]
        return enc.encode(texts[i])

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(work, range(len(texts))))
    assert got == expected
    assert enc.encode_batch(texts) == expected


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_b38_fork_after_parallel_use() -> None:
    enc = ours("cl100k_base")
    texts = [f"sentence number {i} with some words" for i in range(2000)]
    parent = enc.encode_batch(texts)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        signal.alarm(30)
        try:
            ok = enc.encode_batch(texts) == parent
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    assert os.read(r, 1) == b"1"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _encode_in_child(enc: tokenbytes.Encoding) -> list[int]:
    return enc.encode("hello world")


def test_b26_spawn_pickling() -> None:
    enc = ours("cl100k_base")
    with mp.get_context("spawn").Pool(1) as pool:
        assert pool.apply(_encode_in_child, (enc,)) == [15339, 1917]
