#!/usr/bin/env bash
# The project's test command (README step 2): lints, Rust tests, Python tests.
# Run from anywhere; needs `pip install ".[test]"` first (README step 1).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test -p tokenbytes-core --quiet
echo "== ruff"
ruff check python tests bench
echo "== mypy and stubtest (the .pyi stub matches the compiled module)"
python -m mypy python/tokenbytes
python -m mypy.stubtest tokenbytes._core
echo "== pytest (against the installed wheel)"
python -m pytest -p no:cacheprovider "$@"
