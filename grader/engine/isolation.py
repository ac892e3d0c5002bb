"""Operating-system isolation of learner code: Linux namespaces, set up inside the child.

The zygote forks a child per notebook; before any learner code runs, the child calls
:func:`enter`, which does what bubblewrap does, with the same kernel features, but
without an exec (so the zygote's warm imports are kept):

* **mount namespace**: the root becomes a fresh tmpfs holding read-only binds of the system
  (``/usr``, ``/etc``, ``/lib*``, ``/opt``, the Python installation) and of the kit's own code
  and datasets, plus the notebook's scratch folder as a small writable tmpfs. Nothing else
  exists there: not the grader's output folder, the submissions, the instructor's checkout,
  other children's scratch folders or the home directories.
* **network namespace** with loopback only. The stub's API is reached through a listening
  socket the child creates in that namespace and hands to the grader (see ``child.py``), so
  learner code and every subprocess it starts reach the stub and nothing else.
* **PID namespace**, whose init is the learner's interpreter: learner code cannot see or
  signal the grader, the zygote or other children, and when grading ends the kernel kills
  every process left in it, detached (``setsid``) or not.
* IPC and UTS namespaces; ``no_new_privs``.
* As root: an unprivileged uid (distinct per child) with no capabilities. Otherwise a user
  namespace maps the user to itself, and capabilities are dropped once the mounts are made.

Where the kernel refuses (macOS, a container without user namespaces), the child runs with
process isolation only (rlimits, the audit hook, a clean environment) and says so:
:func:`enter` returns the level that is really in force, and ``strict`` refuses to go on.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import signal
import socket
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

AUTO, STRICT, PROCESS = "auto", "strict", "process"
MODES = (AUTO, STRICT, PROCESS)

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
MOUNT_ATTR_RDONLY, AT_RECURSIVE = 0x1, 0x8000
_SYSCALLS = {  # name -> number, per architecture
    "x86_64": {"pivot_root": 155, "capset": 126, "mount_setattr": 442},
    "aarch64": {"pivot_root": 41, "capset": 91, "mount_setattr": 442},
}
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
DEVICES = ("null", "zero", "full", "random", "urandom")
LEARNER_UID_BASE = 200_000  # as root, child n runs as uid BASE + (n mod 50,000): no one else's uid


class IsolationUnavailable(RuntimeError):
    """Strict isolation was required but this machine cannot provide it, or the sandbox
    could not be completed (then learner code never runs half-isolated)."""


class NamespacesRefused(OSError):
    """The kernel refused to create the namespaces; nothing has been changed yet."""


@dataclass(frozen=True)
class Policy:
    """What the child may see: the job's ``isolation`` field, built by the grader."""

    mode: str  # auto, strict or process
    scratch: str  # the notebook's working folder: the only writable place
    readable: tuple[str, ...]  # read-only besides the system: the Python installation, the kit, its data
    scratch_mb: int = 256
    max_processes: int = 256

    def to_dict(self) -> dict:
        return {"mode": self.mode, "scratch": self.scratch, "readable": list(self.readable),
                "scratch_mb": self.scratch_mb, "max_processes": self.max_processes}

    @classmethod
    def from_dict(cls, data: dict) -> Policy:
        return cls(data["mode"], data["scratch"], tuple(data["readable"]), data["scratch_mb"],
                   data["max_processes"])


def policy_for(mode: str, scratch: Path, extra_readable: tuple[str, ...] = ()) -> Policy:
    """The policy for one notebook: the kit's code and data and this Python, read-only."""
    if mode not in MODES:
        raise ValueError(f"unknown isolation {mode!r}; choose one of {', '.join(MODES)}")
    from grader.engine.session import PACKAGE_ROOT

    kit = {str(PACKAGE_ROOT / "grader"), str(PACKAGE_ROOT / "datasets")}
    return Policy(mode, str(scratch), tuple(sorted(_python_paths() | kit | set(extra_readable))))


@functools.cache
def _python_paths() -> frozenset[str]:
    """This interpreter's installation and import paths (not a script's folder or the cwd), and
    wherever their top-level symlinks lead (a package linked in from elsewhere must resolve)."""
    prefixes = (sys.prefix, sys.base_prefix)

    def installed(path: str) -> bool:
        return os.path.isdir(path) and (path.startswith(prefixes) or path.endswith(("site-packages", "dist-packages")))

    paths = {*prefixes, os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {path for path in sys.path if installed(path)}
    for folder in [path for path in paths if os.path.isdir(path)]:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    paths.add(target if os.path.isdir(target) else os.path.dirname(target))
    return frozenset(paths)


_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _syscall(name: str, *args: object) -> int:
    number = _SYSCALLS.get(platform.machine(), {}).get(name)
    if number is None:
        raise OSError(errno.ENOSYS, f"{name} is not known on {platform.machine()}")
    return _libc.syscall(number, *args)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def encoded(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    _check(_libc.mount(encoded(source), encoded(target), encoded(fstype), ctypes.c_ulong(flags), encoded(data)),
           f"mount {source or fstype} on {target}")


def _make_read_only(target: str) -> None:
    """Read-only, the whole tree below *target* (mount_setattr), keeping flags the kernel locked."""
    attr = struct.pack("QQQQ", MOUNT_ATTR_RDONLY, 0, 0, 0)
    if _syscall("mount_setattr", -100, target.encode(), AT_RECURSIVE, attr, len(attr)) == 0:
        return
    flags = os.statvfs(target).f_flag  # older kernels: remount the top mount, keeping its locked flags
    kept = sum(flag for st, flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC))
               if flags & st)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _bind(source: str, root: str, *, writable: bool = False) -> None:
    """Show *source* at the same path under *root* (a symlink is recreated, not followed)."""
    target = root + source
    if os.path.islink(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(source), target)
        return
    if not os.path.exists(source) or os.path.ismount(target):
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    if not writable:
        _make_read_only(target)


def _build_root(policy: Policy, uid: int, gid: int) -> None:
    """Make a new root holding only what the policy allows, mount this PID namespace's /proc
    in it (while the old /proc is still visible, as the kernel requires in a user namespace),
    and pivot into it. The new root is a tmpfs laid over the (empty) scratch folder."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = policy.scratch
    _mount("grader-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for path in ("/tmp", "/dev/shm"):  # first: the kit or Python may live below /tmp, bound in next
        os.makedirs(root + path, exist_ok=True)
        _mount("tmp", root + path, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    for path in SYSTEM_PATHS:
        _bind(path, root)
    for path in _outermost(policy.readable):
        _bind(path, root)
    for name in DEVICES:
        _bind(f"/dev/{name}", root, writable=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    for path in ("/proc", "/.old-root", policy.scratch):
        os.makedirs(root + path, exist_ok=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    options = f"size={policy.scratch_mb}m,mode=0700,uid={uid},gid={gid}"
    _mount("scratch", root + policy.scratch, "tmpfs", MS_NOSUID | MS_NODEV, options)
    os.chdir(root)
    _check(_syscall("pivot_root", b".", b".old-root"), "pivot_root")
    _check(_libc.umount2(b"/.old-root", MNT_DETACH), "unmount the old root")
    os.rmdir("/.old-root")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(policy.scratch)


def _outermost(paths: tuple[str, ...]) -> list[str]:
    """The paths not already inside another one (binding those again would only stack mounts)."""
    kept: list[str] = []
    for path in sorted({os.path.normpath(p) for p in paths}, key=len):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def _loopback_up() -> None:
    """A new network namespace starts with ``lo`` down: bring it up (SIOCSIFFLAGS)."""
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0x1 | 0x8 | 0x40)  # IFF_UP | IFF_LOOPBACK | IFF_RUNNING
        fcntl.ioctl(sock.fileno(), 0x8914, request)


def _drop_capabilities() -> None:
    header = struct.pack("II", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = bytes(24)  # two empty sets of effective, permitted, inheritable
    _check(_syscall("capset", header, data), "drop capabilities")


def _die_with_parent() -> None:
    """SIGKILL when the parent dies. Set again after every change of uid or gid, which clears it."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")


def _become_init_of_new_pid_namespace() -> None:
    """Fork: the child is pid 1 of the new PID namespace and carries on; this process stays
    outside as its parent, mirrors its exit status and never returns."""
    pid = os.fork()
    if pid == 0:
        _die_with_parent()
        os.setsid()  # its own process group: kill(0, ...) then reaches nothing outside the namespace
        return
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _processes_of(uid: int) -> int:
    """How many processes *uid* runs now (RLIMIT_NPROC counts them all, not just ours)."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                count += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                continue
    return count


def _namespaces(policy: Policy) -> tuple[str, int]:
    """Enter the namespaces. Returns, in the learner's process (pid 1 inside), the level and
    the process limit that leaves room for *max_processes* more of the learner's uid."""
    root = os.geteuid() == 0
    if root:
        uid = gid = LEARNER_UID_BASE + os.getpid() % 50_000
        existing = 0
    else:
        uid, gid = os.getuid(), os.getgid()
        existing = _processes_of(uid)
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if sys.platform != "linux":
        raise NamespacesRefused(errno.ENOSYS, f"no Linux namespaces on {sys.platform}")
    if _libc.unshare(flags | (0 if root else CLONE_NEWUSER)) != 0:
        code = ctypes.get_errno()
        raise NamespacesRefused(code, f"the kernel refused new namespaces: {os.strerror(code)}")
    if not root:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    _become_init_of_new_pid_namespace()
    _build_root(policy, uid, gid)
    _loopback_up()
    socket.sethostname("grader")
    if root:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        _die_with_parent()
        return "namespaces + unprivileged uid", policy.max_processes
    _drop_capabilities()
    return "namespaces + user namespace", existing + policy.max_processes


def _unprivileged_without_namespaces(policy: Policy) -> tuple[str, int]:
    """As root with no namespaces: still run learner code as a uid of its own, if the Python
    installation is readable by other users (otherwise imports would fail, so say why not)."""
    hidden = [path for path in {sys.base_prefix, sys.prefix} if not _readable_by_others(path)]
    if hidden:
        return f"learner code runs as root ({hidden[0]} is not readable by other users)", 0
    uid = LEARNER_UID_BASE + os.getpid() % 50_000
    os.chown(policy.scratch, uid, uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    return "unprivileged uid", policy.max_processes


def _readable_by_others(path: str) -> bool:
    folders = [Path(path), *Path(path).parents]
    return all(folder.stat().st_mode & 0o005 == 0o005 for folder in folders if folder.exists())


def enter(policy: Policy) -> str:
    """Isolate this (freshly forked, single-threaded) process; returns the level in force.

    Raises :class:`IsolationUnavailable` when the policy is strict and the kernel refuses, or
    when the sandbox fails half-way (learner code must not run half-isolated).
    """
    import resource

    level, processes = "process only", 0
    if policy.mode != PROCESS:
        try:
            level, processes = _namespaces(policy)
        except NamespacesRefused as refused:
            if policy.mode == STRICT:
                raise IsolationUnavailable(f"strict isolation is not available here ({refused.strerror})") from None
            level = f"process only ({refused.strerror})"
        except OSError as error:
            raise IsolationUnavailable(f"the sandbox could not be set up ({error})") from None
    if not level.startswith("namespaces") and sys.platform != "win32" and os.geteuid() == 0:
        how, processes = _unprivileged_without_namespaces(policy)
        level = f"{level}, {how}"
    if sys.platform == "linux":
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    file_limit = policy.scratch_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))
    if processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    return level


def probe(mode: str) -> str:
    """The level a child gets on this machine, found by isolating a throwaway process the way
    a child is isolated. Raises :class:`IsolationUnavailable` if *mode* is strict and it cannot be."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="grader-probe-") as scratch:
        command = [sys.executable, "-m", "grader.engine.isolation", mode, scratch]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                   env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, sys.path))})
    if completed.returncode == _UNAVAILABLE:
        raise IsolationUnavailable(completed.stdout.strip())
    if completed.returncode != 0:
        raise RuntimeError(f"the isolation probe failed: {completed.stderr.strip() or completed.returncode}")
    return completed.stdout.strip()


_UNAVAILABLE = 3

if __name__ == "__main__":
    try:
        print(enter(policy_for(sys.argv[1], Path(sys.argv[2]))), flush=True)
    except IsolationUnavailable as unavailable:
        print(unavailable, flush=True)
        sys.exit(_UNAVAILABLE)
