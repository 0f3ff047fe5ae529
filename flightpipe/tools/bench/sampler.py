"""Peak resident memory of a process tree, sampled from /proc (Linux)."""

from __future__ import annotations

import os
import threading

SAMPLE_SECONDS = 0.2
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class MemorySampler(threading.Thread):
    """Peak RSS of a process tree: the driver (root JVM + the Python running ``script``) and all."""

    def __init__(self, pid: int, script: str):
        super().__init__(daemon=True)
        self.pid, self.script = pid, script
        self.peak_driver = 0
        self.peak_total = 0
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(SAMPLE_SECONDS)

    def sample(self) -> None:
        children = _children_map()
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        total = driver = 0
        root = _cmdline(self.pid)
        for pid in tree:
            command = _cmdline(pid)
            if pid != self.pid and command == root:
                # The JVM forks to run a shell command (Hadoop's local file system does): until
                # the exec, the child shows the JVM's own pages. Counting it doubled the driver.
                continue
            rss = _rss(pid)
            total += rss
            # The spark-submit process becomes the driver JVM (exec); the Python process
            # running the entry script is its child. Python workers (pyspark.daemon) are not.
            program = command.split(" ", 1)[0]
            if pid == self.pid or (self.script and self.script in command and "python" in program):
                driver += rss
        self.peak_total = max(self.peak_total, total)
        self.peak_driver = max(self.peak_driver, driver)
        self.samples += 1

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
