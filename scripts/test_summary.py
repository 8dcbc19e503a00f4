"""Read an Odoo test log and print the closing line "N passed, N failed"; exit 1 on any problem."""

import re
import sys

log_path, status = sys.argv[1], int(sys.argv[2])
text = open(log_path, encoding="utf-8", errors="replace").read()
problems = []

totals = re.findall(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests", text)
failed = errors = tests = 0
for f, e, t in totals:
    failed, errors, tests = failed + int(f), errors + int(e), tests + int(t)
skipped = re.findall(r"^.*(?:skipped|SKIP).*$", text, re.M)
# Odoo skips browser tests when Chromium or websocket-client is missing: that must fail here.
if skipped:
    problems.append("%d test(s) skipped:\n  %s" % (len(skipped), "\n  ".join(s[:200] for s in skipped[:10])))
# "Installs with no warning": any warning logged before the first test starts. (Tests may make the
# module log warnings on purpose, e.g. while Chorus Pro is down.)
install_part = text.split(" Starting ", 1)[0]
warnings = [line for line in install_part.splitlines() if " WARNING " in line]
if warnings:
    problems.append("warnings logged while installing:\n  %s" % "\n  ".join(w[:300] for w in warnings[:20]))
criticals = [line for line in text.splitlines() if " CRITICAL " in line]
if criticals:
    problems.append("critical errors:\n  %s" % "\n  ".join(c[:300] for c in criticals[:10]))
if not tests:
    problems.append("no test ran")
if status != 0:
    problems.append("Odoo exited with status %d" % status)

# The fault-injection matrix (tests/test_fault_matrix.py), shown again at the end of the run.
matrix = re.search(r"^Fault matrix .*?(?=\n\S*\d{4}-\d\d-\d\d |\Z)", text, re.M | re.S)
if matrix:
    print(matrix.group(0).rstrip())
elif "test_fault_matrix" in text:
    problems.append("the fault matrix was not printed")

for problem in problems:
    print("PROBLEM: " + problem)
print("%d passed, %d failed" % (tests - failed - errors, failed + errors))
sys.exit(1 if problems or failed or errors else 0)
