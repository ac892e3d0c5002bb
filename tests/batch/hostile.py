"""A hostile cohort: notebooks whose extra cells attack the grader, other learners, the
machine and the network, each printing what it managed. The sandbox tests grade them in an
ordinary batch and check that every attack failed and every honest learner was unaffected.

Every attack is bounded (loops have a count, waits a timeout) and aims only at this machine's
own files, processes and loopback ports, so even on a machine without isolation a test run
cannot escape its temporary folders for long.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import socket
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_SOLUTION = ROOT / "solutions" / "00_sample.ipynb"
SAMPLE_EXERCISE = ROOT / "exercises" / "00_sample.ipynb"


@dataclass(frozen=True)
class Targets:
    """What an attacker aims at: paths and ports on the grading machine."""

    token: str  # marks files and processes the attacks create, to look for them afterwards
    submissions: Path
    out: Path
    host_port: int  # a TCP listener of the test on the host's loopback
    grader_pid: int

    def files_written(self) -> list[Path]:
        candidates = [Path("/tmp"), ROOT, self.out, self.submissions, Path.home()]
        return [path for folder in candidates if folder.exists() for path in folder.glob(f"*{self.token}*")]


def snoop(t: Targets) -> str:
    """Read, write, connect, signal: print what worked."""
    return f'''
import os, socket, subprocess, sys, urllib.request
for path in [{str(t.submissions)!r}, {str(t.out)!r}, {str(ROOT / "solutions")!r}, {str(ROOT / "tests")!r}]:
    print("SEE", path, os.path.isdir(path) and bool(os.listdir(path)))
for path in ["/tmp/pwned-{t.token}", {str(ROOT)!r} + "/pwned-{t.token}", {str(t.out)!r} + "/pwned-{t.token}"]:
    try:
        open(path, "w").write("x")
        print("WROTE", path)
    except OSError as error:
        print("DENIED", path, type(error).__name__)
os.symlink({str(ROOT / "solutions")!r}, "link-out")
print("LINK", os.path.exists("link-out"))
probe = "import socket; socket.create_connection(('127.0.0.1', {t.host_port}), timeout=2); print('CONNECTED')"
print("NET", subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() or "refused")
base = os.environ["OPENAI_BASE_URL"].rsplit("/v1", 1)[0]
for path in ["/_stub/requests", "/_stub/faults"]:
    try:
        urllib.request.urlopen(urllib.request.Request(base + path, data=b'{{"rate": 1}}' if "faults" in path else None),
                               timeout=3)
        print("CONTROL", path, "open")
    except Exception as error:
        print("CONTROL", path, "closed", getattr(error, "code", error))
try:
    print("GRADER-ENV", open("/proc/{t.grader_pid}/environ", "rb").read()[:20])
except OSError as error:
    print("GRADER-ENV hidden", type(error).__name__)
try:
    os.kill({t.grader_pid}, 0)
    print("SIGNAL grader reachable")
except OSError as error:
    print("SIGNAL grader unreachable", type(error).__name__)
print("ENV", sorted(os.environ))
links = []
for fd in os.listdir("/proc/self/fd"):
    try:
        links.append(os.readlink(f"/proc/self/fd/{{fd}}"))
    except OSError:
        pass  # the descriptor listdir itself had open
print("FDS", sorted(links))
'''


def leftover(t: Targets) -> str:
    """Detached processes meant to outlive grading and meddle with the next learner's stub.

    The meddler posts faults to the loopback ports the grader's processes hold. Where it cannot
    see them (its own PID namespace, which comes with its own network namespace; or a uid of
    its own, to which the grader's descriptors are closed) it aims at every port in its view.
    Other programs' ports are spared where it can tell them apart: at the process-only level, a
    stub another test serves on this machine would otherwise be sent into failing every request.
    """
    meddler = (f"import os, time, urllib.request  # {t.token}\n"
               "def parent(pid):\n"
               "    return int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n"
               "def graders_sockets():\n"
               "    held = set()\n"
               "    for pid in filter(str.isdigit, os.listdir('/proc')):\n"
               "        try:\n"
               "            ancestor = int(pid)\n"
               f"            while ancestor > 1 and ancestor != {t.grader_pid}:\n"
               "                ancestor = parent(ancestor)\n"
               f"            if ancestor == {t.grader_pid}:\n"
               "                held |= {os.readlink(f'/proc/{pid}/fd/{fd}') for fd in os.listdir(f'/proc/{pid}/fd')}\n"
               "        except (OSError, ValueError, IndexError):\n"
               "            pass\n"
               "    return held or None\n"
               "for _ in range(300):\n"
               "    aimed = graders_sockets()\n"
               "    for line in open('/proc/net/tcp').read().splitlines()[1:]:\n"
               "        local, state, inode = line.split()[1], line.split()[3], line.split()[9]\n"
               "        if state == '0A' and (aimed is None or f'socket:[{inode}]' in aimed):\n"
               "            port = int(local.split(':')[1], 16)\n"
               "            try:\n"
               "                urllib.request.urlopen(urllib.request.Request(\n"
               "                    f'http://127.0.0.1:{port}/_stub/faults', data=b'{\"rate\": 1}'), timeout=1)\n"
               "            except Exception:\n"
               "                pass\n"
               "    time.sleep(0.1)\n")
    return f'''
import subprocess, sys
subprocess.Popen([sys.executable, "-c", {meddler!r}], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen(["setsid", "sh", "-c", "sleep 60; : {t.token}"], stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
'''


def kill_parent(t: Targets) -> str:
    return "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"


def kill_workers(t: Targets) -> str:
    """Kill the grading workers, where the process tree is visible: the zygote's template is a
    child of the grader, and the workers are children of the grader's forkserver."""
    return ("import os, signal\n"
            "def parent(pid):\n"
            "    return int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n"
            "grader = parent(parent(os.getppid()))\n"
            "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
            "    try:\n"
            "        if parent(parent(int(pid))) == grader and 'forkserver' in open(f'/proc/{pid}/cmdline').read():\n"
            "            os.kill(int(pid), signal.SIGKILL)\n"
            "    except (OSError, ValueError, IndexError):\n"
            "        pass\n")


def forge(t: Targets) -> str:
    """Plant a trigger that gives this learner full marks once the grader stores the row."""
    return f'''
import sqlite3
try:
    db = sqlite3.connect({str(t.out / "gradebook.sqlite")!r}, timeout=2)
    db.execute("CREATE TRIGGER forged AFTER INSERT ON results BEGIN "
               "UPDATE results SET score = max_score WHERE id = new.id; END")
    db.commit()
    print("FORGED")
except Exception as error:
    print("FORGE failed", type(error).__name__)
'''


def fork_bomb(t: Targets) -> str:
    """Start processes until something says no (vfork and exec of `sleep`: cheap on a busy machine)."""
    return '''
import subprocess
children = []
try:
    while len(children) < 5000:
        children.append(subprocess.Popen(["sleep", "30"]))
    print("FORKS unlimited", len(children))
except OSError as error:
    print("FORKS stopped at", len(children), type(error).__name__)
'''


def fill_disk(t: Targets) -> str:
    return '''
written = 0
try:
    with open("big.bin", "wb") as handle:
        for _ in range(2048):
            handle.write(b"x" * (1 << 20))
            written += 1 << 20
    print("DISK unlimited", written)
except OSError as error:
    print("DISK stopped at", written, type(error).__name__)
'''


ATTACKS = {"snoop": snoop, "leftover": leftover, "kill_parent": kill_parent,
           "kill_workers": kill_workers, "forge": forge, "fork_bomb": fork_bomb, "fill_disk": fill_disk}


# Attacks report on the process's own stdout, which the grader keeps as the run's output.
REPORT = "import os\ndef print(*args):\n    os.write(1, (' '.join(map(str, args)) + '\\n').encode())\n"


def notebook(attack: str | None, targets: Targets, *, blank: bool = False) -> str:
    """The sample solution (or the blank exercise) with *attack*'s cell added after the setup."""
    raw = json.loads((SAMPLE_EXERCISE if blank else SAMPLE_SOLUTION).read_text())
    if attack:
        raw["cells"].insert(2, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                "source": REPORT + ATTACKS[attack](targets)})
    return json.dumps(raw)


def write_cohort(submissions: Path, learners: dict[str, tuple[str | None, bool]], targets: Targets) -> None:
    """learner -> (attack or None, blank?) in nbgrader's layout, in the order given."""
    for learner, (attack, blank) in learners.items():
        path = submissions / learner / "sample" / "00_sample.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(notebook(attack, targets, blank=blank))


def new_token() -> str:
    return "hostile" + secrets.token_hex(6)


def leftover_processes(token: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if token in command:
                found.append(f"{entry}: {command[:80]}")
    return found


def run_cohort(base: Path, learners: dict[str, tuple[str | None, bool]], isolation: str, jobs: int = 1) -> dict:
    """Grade *learners* in a batch under *base*; report what an observer outside sees afterwards."""
    from grader.batch.gradebook import GradebookTampered
    from grader.batch.runner import grade_batch
    from grader.engine.session import Limits

    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    targets = Targets(new_token(), base / "submitted", base / "out", listener.getsockname()[1], os.getpid())
    write_cohort(targets.submissions, learners, targets)
    os.environ["GRADER_TEST_SECRET"] = "must-not-reach-learner-code"
    limits = Limits(cell_seconds=30, notebook_seconds=90, call_seconds=5, memory_mb=1024, isolation=isolation)
    report: dict = {"tampered": None}
    try:
        summary = grade_batch(targets.submissions, targets.out, jobs=jobs, limits=limits, stream=io.StringIO())
        report["errors"] = summary.errors
    except GradebookTampered as error:
        report["tampered"] = str(error)
    try:
        listener.accept()
        report["host_port_reached"] = True
    except BlockingIOError:
        report["host_port_reached"] = False
    listener.close()
    db = sqlite3.connect(targets.out / "gradebook.sqlite")
    report["schema"] = sorted(db.execute("SELECT type, name FROM sqlite_master"))
    rows = db.execute("SELECT learner, result FROM results")
    report["results"] = {learner: json.loads(text) for learner, text in rows}
    db.close()
    report["leftovers"] = leftover_processes(targets.token)
    report["files_written"] = [str(path) for path in targets.files_written()]
    report["paths"] = {"submissions": str(targets.submissions), "out": str(targets.out)}
    return report


if __name__ == "__main__":  # python -m tests.batch.hostile ISOLATION LEARNERS_JSON: used to run as another user
    with tempfile.TemporaryDirectory(prefix="hostile-") as folder:
        os.chmod(folder, 0o755)
        print(json.dumps(run_cohort(Path(folder), json.loads(sys.argv[2]), sys.argv[1])))
