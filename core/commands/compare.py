"""`sparse-circuits compare A.json B.json`: what two circuits share and what only one keeps."""

from __future__ import annotations

import json
import sys

from ..circuit import Circuit
from ..compare import compare


def cmd_compare(args) -> int:
    a, b = Circuit.load(args.a), Circuit.load(args.b)
    result = compare(a, b)
    if args.json:
        print(json.dumps(result.summary()))
        return 0
    fa, fb = a.extra.get("model_fingerprint"), b.extra.get("model_fingerprint")
    if fa and fb and fa != fb:
        print(
            "note: the circuits come from different models (their fingerprints differ); a node "
            "name means the same channel only if one was trained from the other",
            file=sys.stderr,
        )
    print(f"A: {args.a} ({a.task}, {a.size_text(per_location=False)})")
    print(f"B: {args.b} ({b.task}, {b.size_text(per_location=False)})")
    print()
    print(f"{'':<18}{'shared':>8}{'only A':>8}{'only B':>8}{'overlap':>9}")
    rows = [
        ("nodes", result.shared_nodes, result.only_a_nodes, result.only_b_nodes, result.node_jaccard),
        ("weight edges", result.shared_edges, result.only_a_edges, result.only_b_edges, result.edge_jaccard),
    ]
    for label, shared, only_a, only_b, jaccard in rows:
        print(f"{label:<18}{len(shared):>8}{len(only_a):>8}{len(only_b):>8}{jaccard:>9.2f}")
    for location, (shared, only_a, only_b) in result.per_location().items():
        if shared or only_a or only_b:
            print(f"  {location:<16}{shared:>8}{only_a:>8}{only_b:>8}")
    print()
    print("overlap: Jaccard, shared / in either (1.00: the same set)")
    if result.shared_nodes:
        print("shared nodes: " + ", ".join(result.shared_nodes))
    return 0
