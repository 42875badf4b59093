#!/usr/bin/env python3
"""Compares two gbstats reference files structurally, with a tolerance on floats.

Why not byte for byte: numpy and scipy pick SIMD kernels per processor, and those kernels sum
in a different order, so the same pinned gbstats/numpy/scipy produce floats that differ in
their last one or two digits from one CPU to the next (seen: 8922.868000585759 on an AMD EPYC,
8922.86800058576 on an Intel Xeon). Both are right; only an exact comparison is wrong.

What is compared:
- every key, list length, string, boolean, null and integer exactly;
- floats with |a - b| <= REL * max(|a|, |b|) + ABS, where REL = 1e-12 (a million times tighter
  than the 1e-6 the Rust tests allow against this file, and about 1,000 times looser than the
  cross-CPU differences seen) and ABS = 1e-15 (a billion times tighter than the Rust tests).
  The absolute floor is needed for tail probabilities: a p-value of 3.0183975427e-244 came out
  with a relative difference of 6e-12 on another EPYC, meaningless at that size.

Usage:
  compare.py COMMITTED REGENERATED   exit 0 when they agree, 1 listing the differences
  compare.py --self-test FILE        proves the check can fail: every float perturbed alone by
                                     1e-9 relative is reported (every float of magnitude
                                     1e-5 or more, where the absolute floor does not decide),
                                     and all floats perturbed together by 1e-15 are accepted
"""
import json
import math
import sys

REL = 1e-12
ABS = 1e-15
# Below this magnitude a 1e-9 relative change is under ABS, so the self-test skips it.
SELF_TEST_MIN = 1e-5


def floats_close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= REL * max(abs(a), abs(b)) + ABS


def differences(a, b, path="$"):
    """Yields (path, committed, regenerated) for every place where the two documents differ."""
    # bool is an int in Python: compare types first so that True never equals 1.
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                       and not isinstance(a, bool) and not isinstance(b, bool)):
        yield path, a, b
    elif isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                yield f"{path}.{key}", a.get(key, "<missing>"), b.get(key, "<missing>")
            else:
                yield from differences(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        if len(a) != len(b):
            yield f"{path}.length", len(a), len(b)
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                yield from differences(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        if not floats_close(float(a), float(b)):
            yield path, a, b
    elif a != b:
        yield path, a, b


def float_paths(doc, path=()):
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from float_paths(value, path + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from float_paths(value, path + (i,))
    elif isinstance(doc, float) and math.isfinite(doc) and abs(doc) >= SELF_TEST_MIN:
        yield path


def caught(doc, path, factor):
    """Whether changing the float at path by factor makes the comparison fail. Only the
    enclosing top-level item (one case) is copied and compared, which is equivalent and fast."""
    head, rest = path[:2], path[2:]
    if not rest:
        head, rest = path[:1], path[1:]
    original = doc
    for key in head:
        original = original[key]
    copy = json.loads(json.dumps(original))
    target = copy
    for key in rest[:-1]:
        target = target[key]
    target[rest[-1]] *= factor
    return any(differences(original, copy))


def scale_all(doc, factor):
    if isinstance(doc, dict):
        return {k: scale_all(v, factor) for k, v in doc.items()}
    if isinstance(doc, list):
        return [scale_all(v, factor) for v in doc]
    if isinstance(doc, float):
        return doc * factor
    return doc


def self_test(file):
    with open(file) as f:
        doc = json.load(f)
    paths = list(float_paths(doc))
    if not paths:
        sys.exit(f"compare.py: {file} has no floats to perturb")
    missed = [p for p in paths if not caught(doc, p, 1 + 1e-9)]
    if missed:
        for p in missed[:20]:
            print(f"compare.py: a 1e-9 change at {p} went unnoticed", file=sys.stderr)
        sys.exit(1)
    noise = list(differences(doc, scale_all(doc, 1 + 1e-15)))
    if noise:
        for p, a, b in noise[:20]:
            print(f"compare.py: last-digit noise rejected at {p}: {a} vs {b}", file=sys.stderr)
        sys.exit(1)
    print(f"compare.py: self-test ok: each of {len(paths)} floats of magnitude >= 1e-5 changed by 1e-9 is caught; "
          "all changed together by 1e-15 pass")


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        self_test(argv[2])
        return 0
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        committed = json.load(f)
    with open(argv[2]) as f:
        regenerated = json.load(f)
    found = list(differences(committed, regenerated))
    for path, a, b in found[:40]:
        print(f"  {path}: committed {a!r}, regenerated {b!r}", file=sys.stderr)
    if len(found) > 40:
        print(f"  ... and {len(found) - 40} more", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
