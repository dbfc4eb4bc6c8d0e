"""Run one student's code under bubblewrap: no network, nothing to see but what it needs.

The sandbox is a fresh mount namespace built from an empty root: ``/usr`` (and the
``/lib``, ``/bin`` links), the Python interpreter's prefix, the packages the child needs
(read-only, at ``/opt/python-packages``), a private size-limited ``/tmp``, a new ``/proc``
and ``/dev``, and the folders the caller binds (the student's work copy, the run's exchange
folder). Nothing else of the host exists inside: not the reference library, not
``solutions/``, not the course directory with ``gradebook.db``, not other students.
Every namespace is new (pid, net, ipc, uts, cgroup), so the network is a bare loopback and
killing the sandbox's first process kills everything the student started.

Limits (:class:`SandboxLimits`) are rlimits set by ``prlimit`` on the student's process:
CPU seconds, address space, process count, file size, no core files; plus a wall clock the
parent enforces by killing bubblewrap's whole process group.

Why a separate uid: as root, the kernel never enforces RLIMIT_NPROC (root's processes are
exempt), so a fork bomb would only be stopped by the wall clock. When the grader runs as
root, the sandboxed command therefore runs as an unprivileged uid of its own (``setpriv``
inside the sandbox, after bubblewrap built the mounts), which also makes the read-only
host files read-only twice. As a normal user, bubblewrap uses a user namespace instead and
the process limit counts that user's processes.

Where bubblewrap cannot run, :func:`sandbox_policy` refuses to grade unless the caller
passes ``unsafe_no_sandbox=True``, and then says so loudly on stderr.
"""

import dataclasses
import functools
import itertools
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

from .course import LIBRARY

BWRAP = "bwrap"
PYTHON_PACKAGES_INSIDE = "/opt/python-packages"
# The kit's own packages. A pip-installed kit puts them in the site-packages a sandbox sees; there they
# are the reference library and the grader (with its independent implementations): each is hidden
# under an empty folder, and the student's own library (in the sandbox's home) is what imports.
KIT_PACKAGES = (LIBRARY, __name__.split(".")[0])
HOME_INSIDE = "/home/student"
# First of the uids handed to sandboxed runs when the grader is root; far from real accounts.
SANDBOX_UID_BASE = 620_000
SANDBOX_UID_COUNT = 30_000


class SandboxUnavailableError(RuntimeError):
    """Bubblewrap cannot run here and the caller did not accept grading without it."""


@dataclasses.dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed run. Sizes in bytes, times in seconds."""
    cpu_seconds: int = 120            # RLIMIT_CPU: SIGXCPU, then SIGKILL one second later
    memory_bytes: int = 2 * 2**30     # RLIMIT_AS of each process (numpy reserves ~300 MB)
    max_processes: int = 32           # RLIMIT_NPROC (see the module docstring for root)
    max_file_bytes: int = 64 * 2**20  # RLIMIT_FSIZE: no file written may grow beyond this
    tmp_bytes: int = 64 * 2**20       # size of the private /tmp (tmpfs, counts against RAM)
    home_bytes: int = 256 * 2**20     # size of the private home of a run with a scratch home (tmpfs)
    wall_seconds: float = 180.0       # the parent kills the whole tree after this
    output_bytes: int = 64 * 2**10    # kept of stdout and of stderr each (the tail)

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"SandboxLimits.{field.name} must be a positive number, got {value!r}")


@dataclasses.dataclass(frozen=True)
class Bind:
    """A host path made visible inside the sandbox at ``inside``."""
    host: Path
    inside: str
    writable: bool = False


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed run ended. ``stdout``/``stderr`` are the tails the limits kept."""
    returncode: int | None
    timed_out: bool
    wall_seconds: float
    stdout: str
    stderr: str
    sandboxed: bool

    @property
    def signal_name(self) -> str | None:
        if self.returncode is not None and self.returncode < 0:
            return _signal_name(-self.returncode)
        if self.returncode is not None and self.returncode > 128 and self.sandboxed:
            # bubblewrap's reaper reports a child killed by signal S as exit status 128 + S.
            return _signal_name(self.returncode - 128)
        return None

    def describe(self) -> str:
        """One line for a person: why the run ended."""
        if self.timed_out:
            return f"stopped after the wall-clock limit ({self.wall_seconds:.1f} s)"
        name = self.signal_name
        if name == "SIGXCPU" or (name == "SIGKILL" and "CPU" in self.stderr):
            return "stopped by the CPU-time limit"
        if name == "SIGXFSZ":
            return "stopped for writing a file larger than the limit"
        if name:
            return f"killed by {name}"
        if self.returncode == 0:
            return "finished"
        return f"exited with status {self.returncode}"


# ----------------------------------------------------------------------------- availability

@functools.lru_cache(maxsize=1)
def _probe() -> tuple[bool, str]:
    """Try bubblewrap once with the same options as a real run; (works, reason)."""
    if shutil.which(BWRAP) is None:
        return False, ("bubblewrap is not installed (Debian/Ubuntu: apt-get install -y bubblewrap)")
    with tempfile.TemporaryDirectory(prefix="cs231n-sandbox-probe-") as work:
        try:
            result = run_sandboxed(["/usr/bin/true"], binds=[Bind(Path(work), HOME_INSIDE, True)],
                                   limits=SandboxLimits(wall_seconds=20), use_sandbox=True)
        except OSError as error:
            return False, f"bubblewrap could not start: {error}"
    if result.returncode != 0:
        return False, f"bubblewrap failed here ({result.describe()}): {result.stderr.strip()[-300:]}"
    return True, "bubblewrap works"


def sandbox_available() -> bool:
    """Whether bubblewrap can build a sandbox on this machine (probed once per process)."""
    return _probe()[0]


def sandbox_unavailable_reason() -> str:
    return _probe()[1]


def sandbox_policy(unsafe_no_sandbox: bool = False) -> bool:
    """The one rule every grading entry point applies: returns whether to sandbox.

    With bubblewrap: True. Without: raises :class:`SandboxUnavailableError`, unless
    ``unsafe_no_sandbox`` is set, in which case it warns on stderr and returns False.
    """
    if sandbox_available():
        return True
    reason = sandbox_unavailable_reason()
    if not unsafe_no_sandbox:
        raise SandboxUnavailableError(
            f"cannot grade: {reason}. Student code must run in the sandbox. To grade anyway, "
            f"without isolation, pass --unsafe-no-sandbox (only for code you trust).")
    print("\n" + "!" * 78 + "\n"
          f"WARNING: GRADING WITHOUT A SANDBOX ({reason}).\n"
          "Student code runs as this user with network access and can read the reference,\n"
          "other students' work and the gradebook. Only resource limits still apply.\n"
          + "!" * 78, file=sys.stderr, flush=True)
    return False


# ----------------------------------------------------------------------------- running

def run_sandboxed(command: list[str], *, binds: list[Bind], limits: SandboxLimits = SandboxLimits(),
                  env: dict[str, str] | None = None, cwd: str = HOME_INSIDE,
                  use_sandbox: bool = True, scratch_home: bool = False) -> SandboxResult:
    """Run ``command`` for one student and wait for it, within ``limits``.

    ``binds`` are the only host paths the command sees besides the system and Python;
    a writable bind should be a throwaway copy. ``env`` adds variables to the scrubbed
    environment. ``cwd`` is a path inside the sandbox (the first writable bind by default
    convention, ``/home/student``). ``scratch_home`` makes ``/home/student`` a private tmpfs
    of ``limits.home_bytes`` (binds may go inside it): what the student writes there never
    reaches the host. With ``use_sandbox=False`` (see :func:`sandbox_policy`) the command
    runs on the host with the limits only; inside paths then mean nothing, so the caller must
    pass host paths in ``command``.
    """
    process = start_sandboxed(command, binds=binds, limits=limits, env=env, cwd=cwd, use_sandbox=use_sandbox,
                              scratch_home=scratch_home, interactive=False)
    return process.wait_and_finish()


def start_sandboxed(command: list[str], *, binds: list[Bind], limits: SandboxLimits = SandboxLimits(),
                    env: dict[str, str] | None = None, cwd: str = HOME_INSIDE, use_sandbox: bool = True,
                    scratch_home: bool = False, interactive: bool = True) -> "SandboxedProcess":
    """Start ``command`` as :func:`run_sandboxed` would, and return at once.

    With ``interactive`` the process's standard input and output are pipes to the caller
    (``process.stdin``, ``process.stdout``); its standard error is kept (the tail) either way.
    The caller must end it with :meth:`SandboxedProcess.finish`, which kills whatever is left.
    """
    for bind in binds:
        if not Path(bind.host).exists():
            raise FileNotFoundError(f"sandbox bind source does not exist: {bind.host}")
    environment = scrubbed_environment(env)
    sandbox_uid = _next_sandbox_uid() if (use_sandbox and os.geteuid() == 0) else None
    limited = _prlimit_prefix(limits) + list(command)
    if use_sandbox:
        if sandbox_uid is not None:
            for bind in binds:
                if bind.writable:
                    _chown_tree(bind.host, sandbox_uid)
            limited = _setpriv_prefix(sandbox_uid) + limited
        argv = _bwrap_arguments(binds, limits, environment, cwd, as_root=sandbox_uid is not None,
                                scratch_home=scratch_home) + limited
        popen_env = {"PATH": "/usr/bin:/bin"}
        popen_cwd = "/"
    else:
        argv, popen_env = limited, environment
        writable = [b.host for b in binds if b.writable]
        popen_cwd = str(writable[0]) if writable else "/"
    return SandboxedProcess(argv, popen_env, popen_cwd, limits, sandboxed=use_sandbox, interactive=interactive)


class SandboxedProcess:
    """One started sandbox: its pipes, its wall clock, and the one way to end it (:meth:`finish`)."""

    def __init__(self, argv, env, cwd, limits: SandboxLimits, sandboxed: bool, interactive: bool):
        self.limits = limits
        self.sandboxed = sandboxed
        self._out = None if interactive else tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        self.started = time.monotonic()
        self.deadline = self.started + limits.wall_seconds
        pipe = subprocess.PIPE if interactive else subprocess.DEVNULL
        # A session of its own: on timeout the whole group goes, whatever it forked.
        self.process = subprocess.Popen(argv, stdin=pipe, stdout=subprocess.PIPE if interactive else self._out,
                                        stderr=self._err, env=env, cwd=cwd, start_new_session=True,
                                        close_fds=True)
        self.timed_out = False
        self.result: SandboxResult | None = None

    @property
    def stdin(self):
        return self.process.stdin

    @property
    def stdout(self):
        return self.process.stdout

    def wait_and_finish(self) -> SandboxResult:
        """Wait for the process, at most until the wall clock runs out, then :meth:`finish`."""
        try:
            self.process.wait(timeout=max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.timed_out = True
        except BaseException:
            self.finish()
            raise
        return self.finish()

    def finish(self, timed_out: bool = False) -> SandboxResult:
        """Kill whatever is left of the sandbox and say how it ended (idempotent)."""
        if self.result is not None:
            return self.result
        self.timed_out = self.timed_out or timed_out
        # Also on a normal exit: nothing the student started may outlive the run.
        _kill_group(self.process)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        limit = self.limits.output_bytes
        self.result = SandboxResult(returncode=None if self.timed_out else self.process.returncode,
                                    timed_out=self.timed_out, wall_seconds=time.monotonic() - self.started,
                                    stdout=_tail(self._out, limit) if self._out else "",
                                    stderr=_tail(self._err, limit), sandboxed=self.sandboxed)
        for handle in (self._out, self._err):
            if handle is not None:
                handle.close()
        return self.result


def scrubbed_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a sandboxed command: nothing inherited, one core per student."""
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": HOME_INSIDE,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
        "CS231N_BACKEND": "numpy",
        # One student = one core: BLAS and OpenMP pools would otherwise take every core.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "VECLIB_MAXIMUM_THREADS": "1",
    }
    environment.update(extra or {})
    return environment


def python_runtime_binds() -> list[Bind]:
    """What a child needs to run this interpreter with this environment's packages.

    The interpreter's prefix keeps its host path (the binary finds its standard library
    from it); the environment's site-packages go to ``/opt/python-packages``, to be put on
    ``sys.path`` by the child, which runs with ``-I -S`` so that no ``.pth`` file (such as
    the editable install of the reference library) is processed.
    """
    binds = [Bind(Path(sys.base_prefix), sys.base_prefix)]
    site_packages = Path(sysconfig.get_paths()["purelib"])
    binds.append(Bind(site_packages, PYTHON_PACKAGES_INSIDE))
    return binds


def hidden_kit_packages() -> list[str]:
    """Where the kit's own packages appear in a sandbox (a pip-installed kit), to be covered: see KIT_PACKAGES."""
    site_packages = Path(python_runtime_binds()[1].host)
    return [f"{PYTHON_PACKAGES_INSIDE}/{name}" for name in KIT_PACKAGES if (site_packages / name).exists()]


def python_executable() -> str:
    """The base interpreter (a venv's ``bin/python`` is a symlink into a folder we do not bind)."""
    candidate = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(candidate if candidate.exists() else Path(sys.executable).resolve())


# ----------------------------------------------------------------------------- helpers

_uid_counter = itertools.count()
_uid_lock = threading.Lock()


def _next_sandbox_uid() -> int:
    """A uid no other concurrent run of this process uses, so each run has its own NPROC budget.

    Different grader processes (Dask workers) start from different offsets; a rare clash
    only makes two runs share one process budget.
    """
    with _uid_lock:
        step = next(_uid_counter)
    return SANDBOX_UID_BASE + (os.getpid() * 101 + step) % SANDBOX_UID_COUNT


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid, follow_symlinks=False)
    for folder, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


def _prlimit_prefix(limits: SandboxLimits) -> list[str]:
    return ["/usr/bin/prlimit",
            # Soft limit first: SIGXCPU names the cause; the hard limit a second later is SIGKILL.
            f"--cpu={int(limits.cpu_seconds)}:{int(limits.cpu_seconds) + 1}",
            f"--as={int(limits.memory_bytes)}",
            f"--nproc={_nproc_limit(limits)}",
            f"--fsize={int(limits.max_file_bytes)}",
            "--core=0",
            "--"]


def _nproc_limit(limits: SandboxLimits) -> int:
    if os.geteuid() == 0:
        return int(limits.max_processes)  # a fresh uid: the count starts at zero
    # A normal user's count includes its other processes (the grader, other sandboxes).
    return int(limits.max_processes) + _processes_of_uid(os.getuid())


def _processes_of_uid(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def _setpriv_prefix(uid: int) -> list[str]:
    return ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def _bwrap_arguments(binds, limits, environment, cwd, as_root: bool, scratch_home: bool = False) -> list[str]:
    args = [BWRAP, "--die-with-parent", "--new-session",
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if as_root:
        # No user namespace: setpriv (inside) needs these two to become the sandbox uid;
        # it then drops every capability before the student's code runs.
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user", "--disable-userns"]
    args += _system_mounts()
    # The private /tmp first: a bind made before it would vanish under it, and the kit or
    # its venv may well live under /tmp (a CI checkout, a course copied there).
    args += ["--perms", "1777", "--size", str(int(limits.tmp_bytes)), "--tmpfs", "/tmp"]
    made: set[str] = {"/tmp"}
    if scratch_home:
        # Before the binds too, so that read-only binds can sit inside the writable home.
        args += ["--perms", "0755", "--dir", str(Path(HOME_INSIDE).parent),
                 "--perms", "1777", "--size", str(int(limits.home_bytes)), "--tmpfs", HOME_INSIDE]
        made |= {str(Path(HOME_INSIDE).parent), HOME_INSIDE}
    every_bind = python_runtime_binds() + list(binds)
    for bind in every_bind:
        # bubblewrap creates missing parents with mode 0700: make them traversable first.
        for parent in reversed(Path(bind.inside).parents):
            text = str(parent)
            if text != "/" and text not in made and not _is_system_mount(text):
                args += ["--perms", "0755", "--dir", text]
                made.add(text)
        args += ["--bind" if bind.writable else "--ro-bind", str(bind.host), bind.inside]
    for hidden in hidden_kit_packages():
        args += ["--perms", "0555", "--size", "4096", "--tmpfs", hidden]
    args += ["--chdir", cwd, "--clearenv"]
    for name, value in environment.items():
        args += ["--setenv", name, value]
    args.append("--")
    return args


_SYSTEM_TOP = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def _is_system_mount(path: str) -> bool:
    return path in _SYSTEM_TOP or path in ("/proc", "/dev", "/tmp", "/etc")


def _system_mounts() -> list[str]:
    """``/usr`` read-only, the merged-/usr links as on the host, a new /proc and /dev."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in _SYSTEM_TOP[1:]:
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    # The dynamic linker's cache speeds up loading shared libraries, and matplotlib finds its
    # fonts through fontconfig's files; nothing else of /etc.
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
             "--ro-bind-try", "/etc/fonts", "/etc/fonts",
             "--proc", "/proc", "--dev", "/dev"]
    return args


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _tail(handle, limit: int) -> str:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - limit))
    text = handle.read().decode("utf-8", errors="replace")
    return ("[...]\n" + text) if size > limit else text


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
