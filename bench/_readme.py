"""Replace a marked section of the README with freshly measured figures."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(path: Path, start: str, end: str, block: str) -> None:
    """Put `block` between the `start` and `end` markers of `path` (appended if absent)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new = f"{start}\n{block}\n{end}"
    if start in text and end in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: new, text, flags=re.S)
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + new + "\n"
    path.write_text(text, encoding="utf-8")
