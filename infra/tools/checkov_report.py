"""Reads checkov's JSON report (stdin) and the templates it scanned; fails on any failed check,
on a suppression without a reason, and on a suppression checkov did not use (a stale skip
would hide nothing today and something tomorrow)."""

import json
import sys


def main(templates: list[str]) -> int:
    raw = json.load(sys.stdin)
    reports = raw if isinstance(raw, list) else [raw]
    failed, used = [], set()
    passed = 0
    for report in reports:
        results = report.get("results", {})
        passed += len(results.get("passed_checks", []))
        for check in results.get("failed_checks", []):
            failed.append(f"{check['check_id']} {check['resource']}: {check['check_name']}")
        for check in results.get("skipped_checks", []):
            used.add((check["resource"].split(".", 1)[1], check["check_id"]))
    declared, problems = set(), []
    for path in templates:
        with open(path, encoding="utf-8") as f:
            resources = json.load(f).get("Resources", {})
        for logical_id, resource in resources.items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                declared.add((logical_id, skip["id"]))
                if not skip.get("comment", "").strip():
                    problems.append(f"{logical_id}: suppression {skip['id']} has no reason")
    for logical_id, check_id in sorted(declared - used):
        problems.append(f"{logical_id}: suppression {check_id} is not used by checkov (remove it)")
    for line in failed:
        print(f"checkov: FAILED {line}", file=sys.stderr)
    for line in problems:
        print(f"checkov: {line}", file=sys.stderr)
    print(f"checkov: {passed} passed, {len(failed)} failed, {len(used)} suppressed with reasons")
    if passed == 0:
        print("checkov: no check ran; the scan found nothing to check", file=sys.stderr)
        return 1
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
