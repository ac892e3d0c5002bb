"""Limits applied inside the child process before any learner code runs."""

from __future__ import annotations

import ipaddress
import resource
import socket
import sys

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _network_guard(event: str, args: tuple) -> None:
    """Audit hook: refuse sockets that would leave the machine (loopback is where the stub is)."""
    if event == "socket.connect" or event == "socket.sendto":
        sock, address = args[0], args[-1]
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise PermissionError(
                f"network access to {address[0]} is disabled while grading; "
                "only the stub LLM (OPENAI_BASE_URL) on this machine is reachable"
            )
    elif event == "socket.getaddrinfo" and args[0] is not None and not _is_loopback(args[0]):
        raise PermissionError(
            f"looking up {args[0]!r} is disabled while grading; use the client configured from "
            "OPENAI_BASE_URL, which points at the stub LLM"
        )


def _address_space_in_use() -> int:
    """Bytes of address space mapped now (the interpreter and its preloaded modules): the
    memory limit is on top of it, so it means the same however the child was started."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except OSError:  # no /proc (macOS): the limit is absolute there
        return 0


def apply_limits(memory_mb: int | None, cpu_seconds: int | None) -> None:
    """Cap address space (*memory_mb* more than now) and CPU time, and block non-loopback
    network access.

    The audit hook cannot be removed from Python code; it does not cover subprocesses
    (see docs/threat-model.md).
    """
    if memory_mb:
        limit = memory_mb * 1024 * 1024 + _address_space_in_use()
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if cpu_seconds:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.addaudithook(_network_guard)
