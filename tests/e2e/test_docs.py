"""The documentation, tested: README.md and docs/*.md.

- Every shell block (```sh) runs, in a fresh copy of the files it reads, with
  `irsa-webhook` on PATH and `build/irsa-webhook` both the built binary, and
  exits 0 (or the status its marker names). A block that cannot run here says
  why on the line before it:
      <!-- docs-test: skip (needs a cluster) -->
  and a block that needs the webhook serving (as after `make run`) says
      <!-- docs-test: with-server -->
  (the test serves on a free port and rewrites 8443 to it). Shell-like blocks
  that are not commands (flag lists, output) are fenced ```text.
- Every relative link resolves to a file, and every #anchor to a heading.
- The flags table of docs/reference.md and `irsa-webhook --help` name the
  same flags, with the same defaults where both give one.

At the end it prints how many blocks ran, and why each other one did not.
Every wait is bounded."""

import glob
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webhook_fixture import BINARY, SOURCE, free_port  # noqa: E402

BLOCK_DEADLINE = 60.0
READY_DEADLINE = 20.0
MARKER = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->")
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
# What a fresh copy holds: what the documented commands read.
COPIED = ["examples", "certs", "manifests", "tests/e2e/testdata"]


def read(path):
    with open(path, encoding="utf-8") as file:
        return file.read()


def documents():
    files = [os.path.join(SOURCE, "README.md")]
    files += sorted(glob.glob(os.path.join(SOURCE, "docs", "*.md")))
    return files


def blocks(path):
    """Yields (line, language, marker, text) for every fenced block."""
    lines = read(path).split("\n")
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)```(\S*)", lines[i])
        if not fence:
            i += 1
            continue
        indent, language = fence.group(1), fence.group(2)
        marker = None
        if i > 0:
            found = MARKER.search(lines[i - 1])
            marker = found.group(1) if found else None
        j = i + 1
        body = []
        while j < len(lines) and not lines[j].strip().startswith("```"):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        yield i + 1, language, marker, "\n".join(body)
        i = j + 1


def github_anchor(heading):
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    found = set()
    counts = {}
    in_fence = False
    for line in read(path).split("\n"):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        heading = re.match(r"^#{1,6} (.*)", line)
        if heading and not in_fence:
            anchor = github_anchor(heading.group(1))
            n = counts.get(anchor, 0)
            counts[anchor] = n + 1
            found.add(anchor if n == 0 else f"{anchor}-{n}")
    return found


class Server:
    """The webhook as `make run` serves it, on a free port."""

    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.process = subprocess.Popen(
            [os.path.abspath(BINARY), "--port", str(self.port), "--bind-address", "127.0.0.1",
             "--metrics-port", "0", "--tls-cert", "certs/dev/tls.crt",
             "--tls-key", "certs/dev/tls.key",
             "--service-accounts-file", "examples/service-accounts.yaml",
             "--aws-default-region", "us-east-1"],
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + READY_DEADLINE
        context = ssl.create_default_context(cafile=os.path.join(workdir, "certs/dev/ca.crt"))
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("the webhook exited: " + self.process.stderr.read().decode())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw:
                    with context.wrap_socket(raw, server_hostname="localhost") as tls:
                        tls.sendall(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n"
                                    b"Connection: close\r\n\r\n")
                        if tls.recv(64).startswith(b"HTTP/1.1 200"):
                            return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError("the webhook was not ready within the deadline")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


class DocsTest(unittest.TestCase):
    report = []

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="irsa-docs-")
        for part in COPIED:
            source = os.path.join(SOURCE, part)
            if os.path.isdir(source):
                shutil.copytree(source, os.path.join(cls.workdir, part),
                                ignore=shutil.ignore_patterns("dev", "generated"))
        os.makedirs(os.path.join(cls.workdir, "build"))
        os.makedirs(os.path.join(cls.workdir, "bin"))
        for link in ("build/irsa-webhook", "bin/irsa-webhook"):
            os.symlink(os.path.abspath(BINARY), os.path.join(cls.workdir, link))
        subprocess.run(["bash", "certs/gen-dev-certs.sh", "certs/dev"], cwd=cls.workdir,
                       check=True, capture_output=True, timeout=60)
        cls.server = None

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)
        print("\ndocs test: " + "\n  ".join(cls.report), file=sys.stderr)

    def run_block(self, where, text, expected_status, server):
        env = dict(os.environ)
        env["PATH"] = os.path.join(self.workdir, "bin") + os.pathsep + env["PATH"]
        if server:
            text = text.replace("8443", str(server.port))
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=self.workdir,
                                env=env, capture_output=True, timeout=BLOCK_DEADLINE)
        self.assertEqual(result.returncode, expected_status,
                         f"{where}: exit {result.returncode}\n--- block\n{text}\n--- stderr\n"
                         f"{result.stderr.decode(errors='replace')[-2000:]}")

    def test_shell_blocks_run(self):
        ran, total, skipped = 0, 0, []
        for path in documents():
            name = os.path.relpath(path, SOURCE)
            for line, language, marker, text in blocks(path):
                if language == "":
                    self.fail(f"{name}:{line}: a fenced block without a language; use ```sh for "
                              "commands and ```text (or json, yaml) for the rest")
                if language not in SHELL_LANGUAGES:
                    continue
                total += 1
                where = f"{name}:{line}"
                if marker and marker.startswith("skip"):
                    reason = re.sub(r"^skip\s*", "", marker).strip("() ")
                    self.assertTrue(reason, f"{where}: a skip marker must say why")
                    skipped.append(f"{where}: {reason}")
                    continue
                expected = 0
                server = None
                if marker:
                    status = re.match(r"exit (\d+)$", marker)
                    if status:
                        expected = int(status.group(1))
                    elif marker == "with-server":
                        if DocsTest.server is None:
                            DocsTest.server = Server(self.workdir)
                        server = DocsTest.server
                    else:
                        self.fail(f"{where}: unknown docs-test marker {marker!r}")
                with self.subTest(block=where):
                    self.run_block(where, text, expected, server)
                ran += 1
        DocsTest.report.append(f"{ran} of {total} shell blocks run")
        DocsTest.report.extend(f"not run: {item}" for item in skipped)
        self.assertGreater(ran, 0)

    def test_relative_links_resolve(self):
        link = re.compile(r"\]\(([^)\s]+)\)")
        broken = []
        for path in documents():
            name = os.path.relpath(path, SOURCE)
            in_fence = False
            for number, line in enumerate(read(path).split("\n"), 1):
                if line.lstrip().startswith("```"):
                    in_fence = not in_fence
                if in_fence:
                    continue
                for target in link.findall(line):
                    if re.match(r"^[a-z]+:", target):
                        continue
                    file_part, _, anchor = target.partition("#")
                    resolved = (os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                                if file_part else path)
                    if not os.path.exists(resolved):
                        broken.append(f"{name}:{number}: link to {target}: no such file")
                    elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
                        broken.append(f"{name}:{number}: link to {target}: no such heading")
        self.assertEqual(broken, [], "\n".join(broken))

    def test_flags_table_matches_help(self):
        help_text = subprocess.run([BINARY, "--help"], capture_output=True, text=True,
                                   timeout=10, check=True).stdout
        helped = {}
        for line in help_text.splitlines():
            if not line.startswith("  -"):
                continue
            gap = line.find("  ", 2)
            names, description = line[:gap], line[gap:]
            default = re.search(r"\(default ([^\s,;)]+)\)", description)
            for flag in re.findall(r"--?[a-z][\w-]*", names):
                helped[flag] = default.group(1) if default else None
        reference = read(os.path.join(SOURCE, "docs", "reference.md"))
        section = reference[reference.index("\n## Flags\n"):]
        section = section[:section.index("\n## ", 5)]
        documented = {}
        for row in section.splitlines():
            if not row.startswith("| `-"):
                continue
            cells = [cell.strip() for cell in row.strip("|").split("|")]
            for flag in re.findall(r"`(--?[a-z][\w-]*)`", cells[0]):
                documented[flag] = cells[1].strip("`") if len(cells) > 1 else ""
        mentioned = set(re.findall(r"`(--?[a-z][\w-]*)`", section))
        for flag in helped:
            self.assertIn(flag, mentioned, f"{flag} is in --help but not in docs/reference.md")
        for flag, default in documented.items():
            self.assertIn(flag, helped, f"docs/reference.md documents {flag}, --help does not")
            if helped[flag] is not None:
                self.assertIn(helped[flag], default,
                              f"{flag}: --help says default {helped[flag]}, "
                              f"docs/reference.md says {default!r}")


if __name__ == "__main__":
    unittest.main()
