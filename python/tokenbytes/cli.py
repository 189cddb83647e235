"""Command line: ``tokenbytes encode|decode|count [FILES | -] --encoding NAME``,
``tokenbytes next-byte|sample --model FILE.gguf --prompt TEXT``.

Files are read as bytes and encoded with `Encoding.encode_bytes`, so any file
(valid UTF-8 or not) encodes exactly and decodes back to the same bytes.
Special-token strings in files are ordinary text unless ``--allowed-special``
names them. Exit status: 0 on success, 1 when an input cannot be processed,
2 for a bad command line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from tokenbytes.core import Encoding
from tokenbytes.registry import get_encoding, list_encoding_names

#: Inputs at least this large (bytes, all files together) get a progress bar.
PROGRESS_THRESHOLD = 4 << 20


class CliError(Exception):
    """An input problem reported as one line on stderr, exit status 1."""


class UsageError(Exception):
    """A bad command line reported as one line on stderr, exit status 2."""


def _read_inputs(paths: Sequence[str]) -> Iterator[tuple[str, bytes]]:
    for p in paths or ["-"]:
        if p == "-":
            yield "<stdin>", sys.stdin.buffer.read()
            continue
        try:
            yield p, Path(p).read_bytes()
        except OSError as e:
            raise CliError(f"cannot read {p}: {e.strerror or e}") from None


def _sizes(paths: Sequence[str]) -> int:
    total = 0
    for p in paths:
        if p != "-":
            with contextlib.suppress(OSError):
                total += Path(p).stat().st_size
    return total


def _progress(paths: Sequence[str], quiet: bool):  # -> tqdm | None
    total = _sizes(paths)
    if quiet or total < PROGRESS_THRESHOLD or (not sys.stderr.isatty() and not _force_progress()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc="tokenizing", file=sys.stderr)


def _force_progress() -> bool:
    import os

    return os.environ.get("TOKENBYTES_PROGRESS") == "1"


def _encode_one(enc: Encoding, data: bytes, allowed: set[str] | str) -> list[int]:
    if not allowed:
        return enc.encode_bytes(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CliError(f"--allowed-special needs UTF-8 input: {e}") from None
    return enc.encode(text, allowed_special=allowed, disallowed_special=())


def _allowed(enc: Encoding, value: str | None) -> set[str] | str:
    if not value:
        return set()
    if value == "all":
        return "all"
    names = {v.strip() for v in value.split(",") if v.strip()}
    unknown = names - enc.special_tokens_set
    if unknown:
        raise UsageError(
            f"not special tokens of {enc.name}: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(enc.special_tokens_set))})"
        )
    return names


def cmd_encode(args: argparse.Namespace, enc: Encoding, out: BinaryIO) -> None:
    allowed = _allowed(enc, args.allowed_special)
    bar = _progress(args.files, args.quiet)
    results: list[tuple[str, list[int]]] = []
    for name, data in _read_inputs(args.files):
        results.append((name, _encode_one(enc, data, allowed)))
        if bar is not None:
            bar.update(len(data))
    if bar is not None:
        bar.close()
    if args.format == "npy":
        if not args.output:
            raise UsageError("--format npy needs --output FILE.npy")
        import numpy as np

        flat = [t for _, ids in results for t in ids]
        try:
            with open(args.output, "wb") as f:
                np.save(f, np.asarray(flat, dtype=np.uint32))
        except OSError as e:
            raise CliError(f"cannot write {args.output}: {e.strerror or e}") from None
        return
    if args.format == "json":
        payload = results[0][1] if len(results) == 1 else {name: ids for name, ids in results}
        text = json.dumps(payload) + "\n"
    else:
        text = "".join(" ".join(map(str, ids)) + "\n" for _, ids in results)
    _write(args, out, text.encode())


NPY_MAGIC = b"\x93NUMPY"


def _parse_ids(name: str, data: bytes) -> list[int]:
    # A .npy file is known by its name or, on stdin, by numpy's magic bytes.
    if name.endswith(".npy") or data.startswith(NPY_MAGIC):
        import io

        import numpy as np

        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, EOFError, OSError) as e:
            raise CliError(f"{name}: not a readable .npy array of ids: {e}") from None
        if arr.dtype.kind not in "iu":
            raise CliError(f"{name}: expected an integer array, got dtype {arr.dtype}")
        if arr.ndim != 1:
            raise CliError(f"{name}: expected a 1-D array of ids, got shape {arr.shape}")
        return [int(x) for x in arr]
    text = data.decode("utf-8", "replace").strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise CliError(f"{name}: invalid JSON: {e}") from None
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise CliError(f"{name}: expected a JSON list of integers")
        return value
    ids = []
    for tok in re.split(r"[\s,]+", text):
        if not tok:
            continue
        if not re.fullmatch(r"-?[0-9]+", tok):  # ASCII digits only (\d takes any script's)
            raise CliError(f"{name}: not a token id: {tok[:40]!r}")
        ids.append(int(tok))
    return ids


def cmd_decode(args: argparse.Namespace, enc: Encoding, out: BinaryIO) -> None:
    chunks = []
    for name, data in _read_inputs(args.files):
        ids = _parse_ids(name, data)
        try:
            chunks.append(enc.decode_bytes(ids))
        except KeyError as e:
            raise CliError(f"{name}: {e.args[0] if e.args else e}") from None
    _write(args, out, b"".join(chunks))


def cmd_count(args: argparse.Namespace, enc: Encoding, out: BinaryIO) -> None:
    allowed = _allowed(enc, args.allowed_special)
    bar = _progress(args.files, args.quiet)
    counts = []
    for name, data in _read_inputs(args.files):
        counts.append((name, len(_encode_one(enc, data, allowed))))
        if bar is not None:
            bar.update(len(data))
    if bar is not None:
        bar.close()
    if args.format == "json":
        text = json.dumps({name: n for name, n in counts} | {"total": sum(n for _, n in counts)})
        _write(args, out, (text + "\n").encode())
        return
    lines = [f"{n}\t{name}" for name, n in counts] if len(counts) > 1 else [str(counts[0][1])]
    if len(counts) > 1:
        lines.append(f"{sum(n for _, n in counts)}\ttotal")
    _write(args, out, ("\n".join(lines) + "\n").encode())


def _byte_label(i: int) -> str:
    """A readable name of next-byte index `i` (256: END)."""
    if i == 256:
        return "END"
    if 0x20 <= i < 0x7F or i in (9, 10, 13):
        return repr(chr(i))
    return f"0x{i:02x}"


def _load_byte_lm(args: argparse.Namespace) -> Any:
    from tokenbytes.bytelm import ByteLM

    try:
        return ByteLM.from_gguf(args.model, n_ctx=args.n_ctx, n_threads=args.threads)
    except FileNotFoundError:
        raise CliError(f"cannot read {args.model}: no such file") from None
    except (ValueError, NotImplementedError, ImportError, RuntimeError, OSError) as e:
        raise CliError(f"{args.model}: {e}") from None


def cmd_next_byte(args: argparse.Namespace, out: BinaryIO) -> None:
    if args.top < 1:
        raise UsageError(f"--top must be >= 1, got {args.top}")
    import numpy as np

    blm = _load_byte_lm(args)
    exact = np.exp(blm.next_byte_logprobs(args.prompt))
    naive = np.exp(blm.naive_next_byte_logprobs(args.prompt))
    order = sorted(range(257), key=lambda i: (-max(exact[i], naive[i]), i))[: args.top]
    if args.json:
        rows = [
            {"byte": i, "label": _byte_label(i), "exact": float(exact[i]), "naive": float(naive[i])}
            for i in order
        ]
        payload = {"prompt": args.prompt, "rows": rows, "lm_rows": blm.rows_computed}
        out.write((json.dumps(payload) + "\n").encode())
        out.flush()
        return
    lines = [f"next byte after {args.prompt!r}", f"{'byte':>8}  {'exact':>10}  {'naive':>10}"]
    lines += [f"{_byte_label(i):>8}  {exact[i]:10.6f}  {naive[i]:10.6f}" for i in order]
    lines.append(
        "exact: byte-level model (all token sequences covering the prompt); "
        "naive: the prompt's own encoding, next token's first byte"
    )
    out.write(("\n".join(lines) + "\n").encode())
    out.flush()


def cmd_sample(args: argparse.Namespace, out: BinaryIO) -> None:
    if args.max_bytes < 0:
        raise UsageError(f"--max-bytes must be >= 0, got {args.max_bytes}")
    if not (args.temperature >= 0 and math.isfinite(args.temperature)):
        raise UsageError(f"--temperature must be >= 0, got {args.temperature}")
    if not 0 < args.top_p <= 1:
        raise UsageError(f"--top-p must be in (0, 1], got {args.top_p}")
    if any(not s for s in args.stop):
        raise UsageError("--stop strings must not be empty")
    blm = _load_byte_lm(args)
    text = blm.sample(
        args.prompt,
        max_bytes=args.max_bytes,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        stop=args.stop,
    )
    if args.json:
        payload = {
            "prompt": args.prompt,
            "continuation": text.decode("utf-8", "replace"),
            "continuation_hex": text.hex(),
            "lm_rows": blm.rows_computed,
        }
        out.write((json.dumps(payload) + "\n").encode())
    else:
        out.write(text + b"\n")
    out.flush()


def _write(args: argparse.Namespace, out: BinaryIO, data: bytes) -> None:
    if getattr(args, "output", None):
        try:
            Path(args.output).write_bytes(data)
        except OSError as e:
            raise CliError(f"cannot write {args.output}: {e.strerror or e}") from None
    else:
        out.write(data)
        out.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenbytes",
        description="Exact, fast byte-level BPE tokenization (tiktoken-compatible).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("files", nargs="*", help="input files ('-' or none: standard input)")
    common.add_argument(
        "--encoding",
        "-e",
        default="o200k_base",
        choices=list_encoding_names(),
        help="encoding name (default: o200k_base)",
    )
    common.add_argument("--output", "-o", help="write to this file instead of standard output")
    common.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    special = argparse.ArgumentParser(add_help=False)
    special.add_argument(
        "--allowed-special",
        help="special tokens to encode as such: 'all' or a comma-separated list "
        "(default: none; special-token text is encoded as ordinary text)",
    )
    p = sub.add_parser("encode", parents=[common, special], help="print token ids")
    p.add_argument("--format", "-f", choices=["text", "json", "npy"], default="text")
    p = sub.add_parser("decode", parents=[common], help="ids (text, JSON or .npy) to text")
    p = sub.add_parser("count", parents=[common, special], help="print token counts")
    p.add_argument("--format", "-f", choices=["text", "json"], default="text")
    model = argparse.ArgumentParser(add_help=False)
    model.add_argument("--model", "-m", required=True, help="a GGUF model file (run on the CPU)")
    model.add_argument("--prompt", "-p", required=True, help="the text so far")
    model.add_argument("--threads", type=int, default=None, help="CPU threads of the model")
    model.add_argument("--n-ctx", type=int, default=2048, help="context window (tokens)")
    model.add_argument("--json", action="store_true", help="JSON output")
    p = sub.add_parser(
        "next-byte",
        parents=[model],
        help="exact next-byte probabilities of a GGUF model next to the naive token-level ones",
    )
    p.add_argument("--top", "-k", type=int, default=10, help="rows to print (default 10)")
    p = sub.add_parser("sample", parents=[model], help="sample a continuation byte by byte")
    p.add_argument("--max-bytes", "-n", type=int, default=64, help="at most this many bytes")
    p.add_argument("--temperature", "-t", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    # Each subcommand's own parser, so that its errors show its own usage line.
    for sub_parser in sub.choices.values():
        sub_parser.set_defaults(command_parser=sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    command_parser: argparse.ArgumentParser = args.command_parser
    if unknown:  # exits 2, with the subcommand's usage rather than the top-level one
        command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        if args.command in ("next-byte", "sample"):
            model_cmd = cmd_next_byte if args.command == "next-byte" else cmd_sample
            model_cmd(args, sys.stdout.buffer)
            return 0
        enc = get_encoding(args.encoding)
        handler = {"encode": cmd_encode, "decode": cmd_decode, "count": cmd_count}[args.command]
        handler(args, enc, sys.stdout.buffer)
    except UsageError as e:
        command_parser.print_usage(sys.stderr)
        print(f"tokenbytes {args.command}: error: {e}", file=sys.stderr)
        return 2
    except CliError as e:
        print(f"tokenbytes {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
