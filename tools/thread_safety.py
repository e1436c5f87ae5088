"""Clang's thread-safety analysis over src/: each translation unit of the
build's compile_commands.json compiled by clang++-14 with -fsyntax-only and
-Werror=thread-safety (GCC, which builds the binary, has no such analysis;
src/common/thread_annotations.h says what each mutex guards).

Usage: tools/thread_safety.py BUILD_DIR [JOBS]"""

import concurrent.futures
import json
import os
import shlex
import shutil
import subprocess
import sys

DEADLINE = 600


def commands(build, source_root):
    with open(os.path.join(build, "compile_commands.json"), encoding="utf-8") as file:
        entries = json.load(file)
    for entry in entries:
        if not entry["file"].startswith(os.path.join(source_root, "src") + os.sep):
            continue
        args, kept, skip = shlex.split(entry["command"])[1:], [], False
        for arg in args:
            if skip:
                skip = False
            elif arg == "-o":
                skip = True
            elif not (arg.startswith("-W") or arg == "-c" or arg.startswith("-fsanitize")):
                kept.append(arg)
        yield entry["directory"], entry["file"], kept


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = sys.argv[1]
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count()
    compiler = shutil.which("clang++-14")
    if not compiler:
        print("thread-safety: clang++-14 is missing (make lint installs it)", file=sys.stderr)
        return 2
    if not os.path.exists(os.path.join(build, "compile_commands.json")):
        print(f"thread-safety: no {build}/compile_commands.json: run make build first",
              file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    units = list(commands(build, root))

    def check(unit):
        directory, path, args = unit
        done = subprocess.run([compiler, *args, "-fsyntax-only", "-Wthread-safety",
                               "-Werror=thread-safety"], cwd=directory, capture_output=True,
                              text=True, timeout=DEADLINE)
        return path, done.returncode, done.stderr

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for path, status, errors in pool.map(check, units):
            if status != 0:
                failed += 1
                print(errors, file=sys.stderr, end="")
    if failed:
        print(f"thread-safety: {failed} of {len(units)} translation units fail", file=sys.stderr)
        return 1
    print(f"thread-safety: {len(units)} translation units, no finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
