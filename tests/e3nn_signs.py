"""Read the documented list of Clebsch-Gordan sign differences with e3nn from docs/conventions.md."""

import itertools
import re
from pathlib import Path

CONVENTIONS = Path(__file__).resolve().parents[1] / "docs" / "conventions.md"


def documented_sign_flips() -> set[tuple[int, int, int]]:
    """All (l1, l2, l3) whose sign differs, expanding each documented sorted triple to its permutations."""
    text = CONVENTIONS.read_text()
    block = re.search(r"<!-- e3nn-sign-flips:begin -->(.*?)<!-- e3nn-sign-flips:end -->", text, re.S).group(1)
    triples = {tuple(int(v) for v in t) for t in re.findall(r"\((\d+), (\d+), (\d+)\)", block)}
    return {p for t in triples for p in itertools.permutations(t)}
