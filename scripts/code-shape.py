#!/usr/bin/env python3
"""Checks the handbook's rules on the code's shape, for the whole workspace:

- no file over 500 lines outside tests and benchmarks (`src/` of each crate);
- no function over 100 lines anywhere (tests and benchmarks included);
- no module cycles inside a crate (`scripts/module-cycles.py` on each).

    scripts/code-shape.py            # from the repository root

Prints what breaks a rule and exits 1, or prints a one-line summary.
A regex reading (a function ends at the brace that closes its body), meant
as a guard in CI, not a parser.
"""

import os
import re
import subprocess
import sys

MAX_FILE_LINES = 500
MAX_FN_LINES = 100
FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")
STRING = re.compile(r'"(?:\\.|[^"\\])*"')
CHAR = re.compile(r"'(?:\\.|[^'\\])'")


def rust_files(root):
    for base, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("target", ".git", "node_modules")]
        for name in names:
            if name.endswith(".rs"):
                yield os.path.join(base, name)


def long_functions(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        found = FN.match(lines[i])
        if not found:
            i += 1
            continue
        depth, opened, j = 0, False, i
        while j < len(lines):
            code = CHAR.sub("''", STRING.sub('""', lines[j])).split("//")[0]
            for ch in code:
                if ch == "{":
                    depth, opened = depth + 1, True
                elif ch == "}":
                    depth -= 1
            if (opened and depth <= 0) or (not opened and code.rstrip().endswith(";")):
                break
            j += 1
        if opened and j - i + 1 > MAX_FN_LINES:
            yield found.group(1), i + 1, j - i + 1
        i += 1


def main():
    problems = []
    crates = sorted(os.path.join("crates", c) for c in os.listdir("crates"))
    for path in rust_files("crates") :
        if f"{os.sep}src{os.sep}" in path:
            n = len(open(path, encoding="utf-8").read().rstrip("\n").split("\n"))
            if n > MAX_FILE_LINES:
                problems.append(f"{path}: {n} lines (at most {MAX_FILE_LINES} outside tests and benchmarks)")
    checked = 0
    for root in ["crates", "bench"]:
        for path in rust_files(root):
            checked += 1
            for name, line, n in long_functions(path):
                problems.append(f"{path}:{line}: fn {name} is {n} lines (at most {MAX_FN_LINES})")
    here = os.path.dirname(os.path.abspath(__file__))
    for src in [os.path.join(c, "src") for c in crates] + ["bench/src"]:
        if os.path.isdir(src):
            run = subprocess.run([sys.executable, os.path.join(here, "module-cycles.py"), src], capture_output=True, text=True)
            if run.returncode != 0:
                problems.append(run.stdout.strip())
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"code shape: {checked} Rust files, no file over {MAX_FILE_LINES} lines in src/, no function over {MAX_FN_LINES} lines, no module cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
