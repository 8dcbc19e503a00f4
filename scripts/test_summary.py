"""Read the test logs and print the closing line "N passed, N failed"; exit 1 on any problem.

    test_summary.py <Odoo test log> <Odoo exit status> <pytest JUnit XML> <pytest exit status or ->
                    <real-process log> <its exit status or ->
"""

import os
import re
import sys
import xml.etree.ElementTree as ET

log_path, status = sys.argv[1], int(sys.argv[2])
pytest_xml, pytest_status = sys.argv[3], sys.argv[4]
process_log, process_status = sys.argv[5], sys.argv[6]
text = open(log_path, encoding="utf-8", errors="replace").read()
problems = []

# Odoo's runner.
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
    problems.append("no test ran under Odoo's runner")
if status != 0:
    problems.append("Odoo exited with status %d" % status)
odoo_line = "Odoo's runner: %d passed, %d failed" % (tests - failed - errors, failed + errors)

# pytest-odoo (the same tests but the browser tours, see conftest.py).
py_passed = py_failed = 0
pytest_line = "pytest-odoo: not run (CHORUS_PYTEST=0)"
if pytest_status != "-":
    if not os.path.exists(pytest_xml):
        problems.append("pytest-odoo wrote no report (exit status %s): see pytest.log" % pytest_status)
    else:
        # One count per test method, as Odoo's runner counts (the suite totals also count subtests).
        cases = list(ET.parse(pytest_xml).getroot().iter("testcase"))
        py_tests = len(cases)
        py_failed = sum(1 for case in cases if case.find("failure") is not None or case.find("error") is not None)
        py_skipped = sum(1 for case in cases if case.find("skipped") is not None)
        py_passed = py_tests - py_failed - py_skipped
        if py_skipped:
            problems.append("%d test(s) skipped under pytest-odoo" % py_skipped)
        if not py_tests:
            problems.append("no test ran under pytest-odoo")
        pytest_line = "pytest-odoo: %d passed, %d failed" % (py_passed, py_failed)
    if pytest_status not in ("0", "5"):
        problems.append("pytest exited with status %s" % pytest_status)

# The real-process suite (process_tests/run.py): its matrix, and its scenarios counted as tests.
proc_passed = proc_failed = 0
process_line = "real processes: not run (CHORUS_PROCESS=0 or TEST_TAGS)"
process_matrix = ""
if process_status != "-":
    process_text = open(process_log, encoding="utf-8", errors="replace").read() if os.path.exists(process_log) else ""
    found = re.search(r"^(\d+) scenarios passed, (\d+) failed$", process_text, re.M)
    block = re.search(r"^Real-process matrix .*?(?=^\d+ scenarios passed)", process_text, re.M | re.S)
    process_matrix = block.group(0).rstrip() if block else ""
    if found:
        proc_passed, proc_failed = int(found.group(1)), int(found.group(2))
        process_line = "real processes: %d passed, %d failed" % (proc_passed, proc_failed)
    else:
        problems.append("the real-process suite did not finish (exit %s): see %s" % (process_status, process_log))
    if process_status != "0" and not proc_failed:
        problems.append("the real-process suite exited with status %s" % process_status)

# The fault-injection matrix (tests/test_fault_matrix.py), shown again at the end of the run.
matrix = re.search(r"^Fault matrix .*?(?=\n\S*\d{4}-\d\d-\d\d |\Z)", text, re.M | re.S)
if matrix:
    print(matrix.group(0).rstrip())
elif "test_fault_matrix" in text:
    problems.append("the fault matrix was not printed")

if process_matrix:
    print(process_matrix)
for problem in problems:
    print("PROBLEM: " + problem)
print(odoo_line)
print(pytest_line)
print(process_line)
print("%d passed, %d failed" % (tests - failed - errors + py_passed + proc_passed,
                                failed + errors + py_failed + proc_failed))
sys.exit(1 if problems or failed or errors or py_failed or proc_failed else 0)
