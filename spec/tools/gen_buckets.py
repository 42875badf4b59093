#!/usr/bin/env python3
"""Writes spec/buckets.json from the `xxhash` PyPI package, independently of Vane's Rust code.

Usage: python3 spec/tools/gen_buckets.py > spec/buckets.json
"""
import json
import random

import xxhash


def bucket(salt: str, unit: str) -> tuple[int, int]:
    h = xxhash.xxh64(f"{salt}:{unit}".encode("utf-8"), seed=0).intdigest()
    return h, ((h >> 32) * 10000) >> 32


def main() -> None:
    pairs = [
        ("checkout-button", "user-1"),
        ("checkout-button", "user-2"),
        ("checkout-button", ""),
        ("", "user-1"),
        ("", ""),
        ("layer:checkout", "user-1"),
        ("holdout-2026", "device-7f3a"),
        ("new-onboarding", "42"),
        ("new-onboarding", "42.5"),
        ("salt with spaces", "id with spaces"),
        ("ünïcödé", "用户-一"),
        ("emoji", "🙂🚀"),
        ("a:b", "c:d"),
        ("x" * 300, "y" * 300),
    ]
    rng = random.Random(20261124)
    for i in range(86):
        salt = f"exp-{rng.randrange(10**6)}"
        unit = "".join(rng.choice("abcdef0123456789-") for _ in range(rng.randrange(1, 40)))
        pairs.append((salt, unit))
    cases = []
    for salt, unit in pairs:
        h, b = bucket(salt, unit)
        cases.append({"salt": salt, "unit_id": unit, "hash": str(h), "bucket": b})
    doc = {
        "description": "XXH64 (seed 0) of UTF-8 \"{salt}:{unit_id}\"; bucket = ((hash >> 32) * 10000) >> 32. "
        "hash is a decimal string because it does not fit a JSON double.",
        "cases": cases,
    }
    print(json.dumps(doc, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
