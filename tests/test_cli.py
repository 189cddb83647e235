"""The command line, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from conftest import ours


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "tokenbytes", *args], input=stdin, capture_output=True, timeout=120
    )


def test_count_encode_decode(tmp_path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("Hello <|endoftext|> world\n", encoding="utf-8")
    enc = ours("o200k_base")
    expected = enc.encode_ordinary("Hello <|endoftext|> world\n")
    r = run("count", str(doc))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == str(len(expected))
    r = run("encode", str(doc))
    assert [int(x) for x in r.stdout.split()] == expected
    r = run("encode", "--format", "json", "-e", "cl100k_base", "--allowed-special", "all", str(doc))
    assert json.loads(r.stdout) == ours("cl100k_base").encode(
        "Hello <|endoftext|> world\n", allowed_special="all"
    )
    npy = tmp_path / "ids.npy"
    r = run("encode", "--format", "npy", "-o", str(npy), str(doc))
    assert r.returncode == 0, r.stderr
    assert np.load(npy).tolist() == expected
    r = run("decode", str(npy))
    assert r.stdout == doc.read_bytes()
    # A .npy on stdin is known by numpy's magic bytes, not by a file name.
    r = run("decode", "-", stdin=npy.read_bytes())
    assert r.returncode == 0, r.stderr
    assert r.stdout == doc.read_bytes()
    r = run("decode", "-", stdin=" ".join(map(str, expected)).encode())
    assert r.stdout == doc.read_bytes()


def test_binary_file_round_trips(tmp_path) -> None:
    blob = bytes(range(256)) * 3 + b"\xff\xfe text"
    f = tmp_path / "blob.bin"
    f.write_bytes(blob)
    ids = tmp_path / "ids.txt"
    assert run("encode", str(f), "-o", str(ids)).returncode == 0
    assert run("decode", str(ids)).stdout == blob


def test_several_files_and_stdin(tmp_path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("one two", encoding="utf-8")
    b.write_text("three", encoding="utf-8")
    r = run("count", "--format", "json", str(a), str(b))
    data = json.loads(r.stdout)
    assert data["total"] == data[str(a)] + data[str(b)]
    r = run("count", "-", stdin=b"hello world")
    assert r.stdout.strip() == b"2"


def test_bad_input_exit_codes(tmp_path) -> None:
    r = run("count", str(tmp_path / "missing.txt"))
    assert r.returncode == 1 and b"cannot read" in r.stderr
    r = run("decode", "-", stdin=b"1 2 banana")
    assert r.returncode == 1 and b"banana" in r.stderr
    r = run("decode", "-", stdin=b"[1, 99999999]")
    assert r.returncode == 1 and b"99999999" in r.stderr
    r = run("count", "--encoding", "nope", "-")
    assert r.returncode == 2
    r = run("encode", "--allowed-special", "<|bogus|>", "-", stdin=b"x")
    assert r.returncode == 2 and b"bogus" in r.stderr
    assert r.stderr.startswith(b"usage: tokenbytes encode")
    # An unknown option is reported with the subcommand's usage, not the top-level one.
    r = run("count", "--bogus", "-", stdin=b"x")
    assert r.returncode == 2 and r.stdout == b""
    assert r.stderr.startswith(b"usage: tokenbytes count")
    assert b"unrecognized arguments: --bogus" in r.stderr
    r = run("encode", "--format", "npy", "-", stdin=b"x")
    assert r.returncode == 2 and b"--output" in r.stderr
    for fmt in ("text", "npy"):
        r = run(
            "encode", "--format", fmt, "-o", str(tmp_path / "no" / "such" / "dir"), "-", stdin=b"x"
        )
        assert r.returncode == 1 and b"cannot write" in r.stderr and b"Traceback" not in r.stderr
    r = run("frobnicate")
    assert r.returncode == 2


def test_decode_rejects_unreadable_npy_and_non_ascii_digits(tmp_path) -> None:
    import numpy as np

    bad = {
        "garbage.npy": b"\x93NUMPY garbage",
        "truncated.npy": b"",
    }
    obj = tmp_path / "object.npy"
    np.save(obj, np.array([1, "a"], dtype=object), allow_pickle=True)
    full = tmp_path / "full.npy"
    np.save(full, np.arange(1000, dtype=np.int64))
    # Ids come as one sequence: a 2-D array is not silently flattened.
    np.save(tmp_path / "matrix.npy", np.arange(4, dtype=np.uint32).reshape(2, 2))
    bad["matrix.npy"] = (tmp_path / "matrix.npy").read_bytes()
    bad["truncated.npy"] = full.read_bytes()[:200]
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    for path in [*(tmp_path / n for n in bad), obj]:
        r = run("decode", str(path))
        assert r.returncode == 1, path
        assert path.name.encode() in r.stderr and b"Traceback" not in r.stderr, r.stderr
    # An Arabic-Indic digit is no token id (Python's int() would read it as 3).
    r = run("decode", "-", stdin="24912 \u0663".encode())
    assert r.returncode == 1 and b"not a token id" in r.stderr


def test_encoder_and_cli_do_not_import_numpy(tmp_path) -> None:
    # numpy (and its BLAS threads) is loaded only by the parts that use it:
    # encode_to_numpy, .npy files, tokenbytes.dynamic and the byte-level LMs.
    src = tmp_path / "a.txt"
    src.write_text("hello world")
    code = (
        "import sys, tokenbytes\n"
        "from tokenbytes.cli import main\n"
        "enc = tokenbytes.get_encoding('o200k_base')\n"
        "assert enc.decode(enc.encode_batch(['hello world'] * 3)[2]) == 'hello world'\n"
        f"assert main(['count', '--encoding', 'o200k_base', {str(src)!r}]) == 0\n"
        "assert 'numpy' not in sys.modules, 'numpy was imported'\n"
        "assert tokenbytes.dynamic.merge_batch and 'numpy' in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
