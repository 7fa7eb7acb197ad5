"""A throwaway single-node SLURM cluster (munged + slurmctld + slurmd on 127.0.0.1) for tests.

Everything lives in a fresh folder under /tmp: its own munge key and socket, its own slurm.conf
(this machine's CPU count and memory as ``slurmd -C`` reports them, one partition ``debug``, free
ports, no accounting), state and spool folders and logs. Nothing under /etc is read or written and
no system service is started: the daemons are child processes of the test (foreground mode) and
``stop()`` ends exactly those, after cancelling the cluster's jobs.

Client commands find the cluster through ``SLURM_CONF``; ``env()`` also puts a folder of wrappers
first on PATH that set it, because the Snakemake SLURM job-step plugin removes every ``SLURM_*``
variable (``SLURM_CONF`` included) before its nested ``srun``. A real cluster has its configuration
at the default path (or in configless mode) and needs no such wrapper.

``SlurmCluster(accounting=True)`` adds job accounting as real sites have it: a MariaDB server
(its own data folder, 127.0.0.1 and a free port), slurmdbd, the cluster registered and one account,
``ACCOUNT``, for the current user; ``sacct`` and ``sacctmgr`` then answer.

Needs the Debian packages ``slurm-wlm`` and ``munge`` (``apt-get install slurm-wlm munge``), for
accounting also ``slurmdbd`` and ``mariadb-server``; ``missing_binaries()`` names what is absent so
tests can skip saying why. Tested with SLURM 22.05.8 and MariaDB 10.11 (Debian 12) as root; slurmd
launches jobs as the user who started it.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
ACCOUNTING_DAEMONS = ("slurmdbd", "mariadbd", "mariadb-install-db", "mariadb")
CLIENTS = ("sbatch", "srun", "squeue", "sinfo", "scontrol", "scancel", "sacct", "sacctmgr", "sshare")
PARTITION = "debug"
ACCOUNT = "ecglibtest"
MIN_JOB_AGE_S = 300  # finished jobs stay visible to `squeue --states=all` this long


def _which(name: str) -> str | None:
    # the daemons live in /usr/sbin, which a non-root PATH may lack
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def missing_binaries(accounting: bool = False) -> list[str]:
    """The daemons and client commands this cluster needs that are not installed."""
    names = (*DAEMONS, *CLIENTS, *(ACCOUNTING_DAEMONS if accounting else ()))
    return [name for name in names if _which(name) is None]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_hardware() -> dict[str, str]:
    """``slurmd -C``'s description of this machine (NodeName, CPUs, RealMemory, ...)."""
    out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, check=True, timeout=30)
    first = out.stdout.splitlines()[0]
    return dict(item.split("=", 1) for item in first.split())


class SlurmCluster:
    """Start with ``start()`` (or use as a context manager); ``env()`` for client commands."""

    def __init__(self, root: Path | None = None, start_timeout_s: float = 60.0, accounting: bool = False):
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="ecglib-slurm-", dir="/tmp"))
        self.start_timeout_s = start_timeout_s
        self.accounting = accounting
        self.conf = self.root / "slurm.conf"
        self.bin = self.root / "bin"
        self.procs: dict[str, subprocess.Popen] = {}
        self.hardware: dict[str, str] = {}

    # -- configuration -------------------------------------------------------------------------
    def _write_files(self) -> None:
        root = self.root
        # munged insists: key readable by its owner only, socket folder traversable by everyone
        root.chmod(0o755)
        for sub in ("munge", "run", "state", "spool", "log", "bin"):
            (root / sub).mkdir(exist_ok=True)
        (root / "munge").chmod(0o700)
        (root / "run").chmod(0o755)
        key = root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)

        if self.accounting:
            self._write_accounting_files()
        self.hardware = node_hardware()
        hw = self.hardware
        user = getpass.getuser()
        node = hw["NodeName"]
        cpu_layout = " ".join(
            f"{k}={hw[k]}" for k in ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")
        )
        self.conf.write_text(
            "\n".join(
                [
                    "# written by tests/slurm_cluster.py: a throwaway single-node cluster",
                    "ClusterName=ecglibtest",
                    f"SlurmctldHost={node}(127.0.0.1)",
                    f"SlurmUser={user}",
                    f"SlurmdUser={user}",
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={root / 'run' / 'munge.sock'}",
                    f"StateSaveLocation={root / 'state'}",
                    f"SlurmdSpoolDir={root / 'spool'}",
                    f"SlurmctldPidFile={root / 'run' / 'slurmctld.pid'}",
                    f"SlurmdPidFile={root / 'run' / 'slurmd.pid'}",
                    f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
                    "SlurmctldDebug=info",
                    "SlurmdDebug=info",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "MpiDefault=none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_CPU_Memory",
                    "SchedulerType=sched/backfill",
                    "ReturnToService=2",
                    f"MinJobAge={MIN_JOB_AGE_S}",
                    *self._accounting_lines(),
                    "JobCompType=jobcomp/none",
                    f"NodeName={node} NodeAddr=127.0.0.1 {cpu_layout} RealMemory={hw['RealMemory']} State=UNKNOWN",
                    f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        # client wrappers that carry SLURM_CONF past the job-step plugin's environment clean-up
        for name in CLIENTS:
            wrapper = self.bin / name
            wrapper.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {_which(name)} "$@"\n')
            wrapper.chmod(0o755)

    def _accounting_lines(self) -> list[str]:
        if not self.accounting:
            return ["JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none"]
        return [
            "JobAcctGatherType=jobacct_gather/linux",
            "AccountingStorageType=accounting_storage/slurmdbd",
            "AccountingStorageHost=127.0.0.1",
            f"AccountingStoragePort={self.dbd_port}",
            f"AccountingStoragePass={self.root / 'run' / 'munge.sock'}",  # the munge socket to reach slurmdbd
        ]

    def _write_accounting_files(self) -> None:
        root = self.root
        self.dbd_port, self.db_port = _free_port(), _free_port()
        (root / "db").mkdir(exist_ok=True)
        dbd = root / "slurmdbd.conf"  # slurmdbd reads it from slurm.conf's folder
        dbd.write_text(
            "\n".join(
                [
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={root / 'run' / 'munge.sock'}",
                    "DbdHost=localhost",
                    "DbdAddr=127.0.0.1",
                    f"DbdPort={self.dbd_port}",
                    f"SlurmUser={getpass.getuser()}",
                    f"LogFile={root / 'log' / 'slurmdbd.log'}",
                    f"PidFile={root / 'run' / 'slurmdbd.pid'}",
                    "StorageType=accounting_storage/mysql",
                    "StorageHost=127.0.0.1",
                    f"StoragePort={self.db_port}",
                    "StorageUser=slurm",
                    "StoragePass=slurm",
                    "StorageLoc=slurm_acct_db",
                    "",
                ]
            )
        )
        dbd.chmod(0o600)

    def _start_accounting(self) -> None:
        root = self.root
        user = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(
            [
                _which("mariadb-install-db"),
                "--no-defaults",
                *user,
                f"--datadir={root / 'db'}",
                "--skip-test-db",
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )
        socket_path = root / "run" / "mysql.sock"
        self._spawn(
            "mariadbd",
            [
                _which("mariadbd"),
                "--no-defaults",  # none of /etc/mysql's settings (it must come first)
                *user,
                f"--datadir={root / 'db'}",
                f"--socket={socket_path}",
                f"--port={self.db_port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={root / 'run' / 'mysql.pid'}",
                f"--log-error={root / 'log' / 'mariadb.log'}",
            ],
        )
        sql = "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"

        def sql_ok() -> bool:
            args = [_which("mariadb"), "--no-defaults", f"--socket={socket_path}", "-u", getpass.getuser()]
            return subprocess.run([*args, "-e", sql], capture_output=True, timeout=30).returncode == 0

        self._wait_for(sql_ok, "MariaDB answering on its socket")
        self._spawn("slurmdbd", [_which("slurmdbd"), "-D"])
        log = root / "log" / "slurmdbd.log"
        self._wait_for(lambda: log.is_file() and "slurmdbd version" in log.read_text(), "slurmdbd started")

        def registered() -> bool:
            # slurmctld refuses to start against a slurmdbd that does not know its cluster
            return self.run("sacctmgr", "-i", "add", "cluster", "ecglibtest", check=False).returncode == 0

        self._wait_for(registered, "the cluster registered with slurmdbd")

    def _add_account(self) -> None:
        self.run("sacctmgr", "-i", "add", "account", ACCOUNT)
        self.run("sacctmgr", "-i", "add", "user", getpass.getuser(), f"account={ACCOUNT}")

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose SLURM client commands talk to this cluster."""
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = f"{self.bin}:{env.get('PATH', '')}"
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a client command (``sinfo``, ``squeue``, ...) against this cluster."""
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            env=self.env(),
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    # -- life cycle ----------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.stdout", "wb")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            start_new_session=True,  # a Ctrl-C in the test's terminal is the test's, not the daemons'
        )
        log.close()

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with status {proc.returncode} while the test cluster started "
                    f"in {self.root}:\n{self.log_tail()}"
                )

    def start(self) -> SlurmCluster:
        missing = missing_binaries(self.accounting)
        if missing:
            raise RuntimeError(f"SLURM test cluster: not installed: {', '.join(missing)}")
        try:
            self._write_files()
            run = self.root / "run"
            munge = self.root / "munge"
            self._spawn(
                "munged",
                [
                    _which("munged"),
                    "--foreground",
                    f"--socket={run / 'munge.sock'}",
                    f"--key-file={munge / 'munge.key'}",
                    f"--log-file={munge / 'munged.log'}",
                    f"--pid-file={munge / 'munged.pid'}",
                    f"--seed-file={munge / 'munged.seed'}",
                ],
            )
            self._wait_for(lambda: (run / "munge.sock").exists(), "munged's socket")
            if self.accounting:
                self._start_accounting()
            self._spawn("slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(self.conf)])
            self._spawn(
                "slurmd", [_which("slurmd"), "-D", "-f", str(self.conf), "-N", self.hardware["NodeName"]]
            )
            self._wait_for(self._node_idle, f"node {self.hardware['NodeName']} idle in sinfo")
            if self.accounting:
                self._add_account()
        except BaseException:
            self.stop()
            raise
        return self

    def _node_idle(self) -> bool:
        out = self.run("sinfo", "--noheader", "--format=%t", check=False, timeout=10)
        return out.returncode == 0 and out.stdout.strip() == "idle"

    def _wait_for(self, condition, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            if condition():
                return
            time.sleep(0.5)
        raise RuntimeError(
            f"SLURM test cluster: no {what} after {self.start_timeout_s:.0f} s ({self.root}):\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 15) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")) + [self.root / "munge" / "munged.log"]:
            if path.is_file():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def stop(self) -> None:
        """Cancel the cluster's jobs, end its daemons (only the ones started here), remove its folder."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            self.run("scancel", f"--user={getpass.getuser()}", check=False)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                out = self.run("squeue", "--noheader", "--format=%i", check=False)
                if out.returncode != 0 or not out.stdout.strip():
                    break
                time.sleep(0.5)
        for name in reversed(list(self.procs)):  # the reverse of their start: slurmd first, munged last
            proc = self.procs[name]
            if proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":  # python tests/slurm_cluster.py [--accounting]: start one, show it, stop it
    import sys

    with SlurmCluster(accounting="--accounting" in sys.argv) as cluster:
        print(cluster.conf.read_text())
        print(cluster.run("sinfo").stdout)
        if cluster.accounting:
            print(cluster.run("sacctmgr", "-n", "show", "assoc", "format=cluster,account,user").stdout)
