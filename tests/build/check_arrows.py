"""The build enforces the arrows between parts (STYLE.md "Layout shows the
architecture"): each part's library, declared with irsa_part(NAME DEPS ...) in
CMakeLists.txt, links exactly the parts its sources and headers include, and
the parts table in docs/development.md shows those same arrows. A source
that includes a part its target does not link, a part linked but not
included, a cycle, or a table that says otherwise fails, naming the file.

Usage: check_arrows.py SOURCE_DIR"""

import os
import re
import sys


def declared_parts(source):
    text = open(os.path.join(source, "CMakeLists.txt"), encoding="utf-8").read()
    parts = {}
    for match in re.finditer(r"irsa_part\((\w+)((?:\s+DEPS)?[^)]*)\)", text):
        deps = re.findall(r"\birsa_(\w+)", match.group(2))
        parts[match.group(1)] = set(deps)
    return parts


def included_parts(source, part, known):
    used = {}
    folder = os.path.join(source, "src", part)
    for name in sorted(os.listdir(folder)):
        if not name.endswith((".h", ".cc")):
            continue
        path = os.path.join(folder, name)
        for line in open(path, encoding="utf-8"):
            include = re.match(r'\s*#\s*include\s+"(\w+)/', line)
            if include and include.group(1) != part and include.group(1) in known:
                used.setdefault(include.group(1), f"src/{part}/{name}")
    return used


def documented_arrows(source):
    """The rows `| \\`part/\\` | ... | \\`a\\`, \\`b\\` |` of docs/development.md's parts table."""
    path = os.path.join(source, "docs", "development.md")
    table = {}
    for line in open(path, encoding="utf-8"):
        row = re.match(r"^\|\s*`(\w+)/`\s*\|[^|]*\|([^|]*)\|\s*$", line)
        if row:
            table[row.group(1)] = set(re.findall(r"`(\w+)`", row.group(2)))
    return table


def find_cycle(graph):
    state = {}

    def visit(node, path):
        state[node] = "visiting"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "visiting":
                return path + [node, dep]
            if dep not in state:
                cycle = visit(dep, path + [node])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def main(source):
    parts = declared_parts(source)
    problems = []
    actual = {}
    for part in sorted(parts):
        used = included_parts(source, part, parts)
        actual[part] = set(used)
        for dep, where in sorted(used.items()):
            if dep not in parts[part]:
                problems.append(f"{where} includes {dep}/, but irsa_{part} does not link irsa_{dep}"
                                f" (add it to irsa_part({part} DEPS ...) in CMakeLists.txt)")
        for dep in sorted(parts[part] - set(used)):
            problems.append(f"irsa_{part} links irsa_{dep}, but nothing in src/{part}/ includes "
                            f"{dep}/ (remove it from irsa_part({part} DEPS ...))")
    for folder in sorted(os.listdir(os.path.join(source, "src"))):
        if os.path.isdir(os.path.join(source, "src", folder)) and folder not in parts:
            problems.append(f"src/{folder}/ is not a part: declare it with irsa_part in CMakeLists.txt")
    cycle = find_cycle(actual)
    if cycle:
        problems.append("the parts include each other in a cycle: " + " -> ".join(cycle))
    table = documented_arrows(source)
    for part in sorted(parts):
        if part not in table:
            problems.append(f"docs/development.md: the parts table has no row for `{part}/`")
        elif table[part] != actual[part]:
            problems.append(f"docs/development.md: `{part}/` shows {sorted(table[part])}, "
                            f"its includes are {sorted(actual[part])}")
    for part in sorted(set(table) - set(parts)):
        problems.append(f"docs/development.md: the parts table lists `{part}/`, which is not a part")
    for problem in problems:
        print("arrows:", problem, file=sys.stderr)
    if not problems:
        print(f"arrows: {len(parts)} parts, every include matches its target's links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
