"""`tokenbytes next-byte` and `tokenbytes sample` on SmolLM2 (GGUF from PyPI,
run by xllamacpp; about a second per LM row, so prompts and budgets are small)."""

from __future__ import annotations

import json

import pytest
from test_byteprob_real import gguf

from tokenbytes import cli
from tokenbytes.cli import main


def test_bad_inputs(tmp_path, capsys) -> None:
    assert main(["next-byte", "-m", str(tmp_path / "missing.gguf"), "-p", "x"]) == 1
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file")
    assert main(["sample", "-m", str(bad), "-p", "x"]) == 1
    err = capsys.readouterr().err
    assert "GGUF" in err and "Traceback" not in err
    assert main(["sample", "-m", str(bad), "-p", "x", "--max-bytes", "-1"]) == 2
    assert "--max-bytes" in capsys.readouterr().err
    assert main(["sample", "-m", str(bad), "-p", "x", "--top-p", "0"]) == 2
    with pytest.raises(SystemExit) as e:
        main(["sample", "-p", "x"])
    assert e.value.code == 2


def test_next_byte_and_sample_on_smollm2(capsys, monkeypatch) -> None:
    """Real runs; the model is loaded once (its LM rows cached across the
    commands) to keep the test near a minute."""
    pytest.importorskip("xllamacpp")
    model = gguf()
    loaded: list[object] = []
    load = cli._load_byte_lm

    def load_once(args):  # type: ignore[no-untyped-def]
        if not loaded:
            loaded.append(load(args))
        return loaded[0]

    monkeypatch.setattr(cli, "_load_byte_lm", load_once)
    assert main(["next-byte", "-m", model, "-p", "Hello, wor", "--top", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["rows"]
    assert rows[0]["label"] == "'l'" and rows[0]["exact"] > 0.9
    assert sum(r["exact"] for r in rows) <= 1 + 1e-9
    assert sum(r["naive"] for r in rows) <= 1 + 1e-9
    # The naive column (prompt's own encoding) is biased away from 'l'.
    assert rows[0]["exact"] - rows[0]["naive"] > 0.5
    args = ["sample", "-m", model, "-p", "Hello, wor", "-n", "3", "--seed", "1", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert first["continuation"].startswith("l")
