"""Fork-server kernels: every report gets a fresh kernel process, forked from a server that has
already imported the heavy libraries, so a kernel starts in milliseconds instead of seconds.

Three roles live here:

* ``python -m analysis.forkkernel --serve SOCKET`` is the server ("zygote"): it imports numpy,
  pandas, matplotlib, statsmodels, ipykernel and the analysis package once, then waits. For each
  request it forks; the child becomes an ipykernel on the requested connection file. The server
  runs no user code, so every kernel starts from the same clean state, and no kernel can see
  another's (each is its own process; forked memory is copy-on-write). Before listening it also
  loads what every report loads on first use (catalogs, locale data, templates, schemes:
  :func:`analysis.render.warm`), and it keeps its collector off and freezes its objects before
  each fork, so a kernel's collections never touch (and copy) the pages it inherited.
* A build's kernel manager asks the server itself (:func:`request_kernel`) and holds the forked
  kernel as its process (:class:`ForkedKernel`: pid, exit status, signals), so no process but
  the kernel starts per report.
* ``python -m analysis.forkkernel -f CONNECTION_FILE`` is the same request as a command (what
  jupyter_client starts as "the kernel" when it is given a command): a tiny launcher that asks
  the server for a fork, forwards signals to it (interrupts, terminate) and exits with its exit
  code. Without a server (``ANALYSIS_ZYGOTE_SOCKET`` unset or unreachable) it simply becomes an
  ordinary ipykernel, so the command is always usable; the build falls back to it.

A build also names, in each request's environment (``ANALYSIS_HOLD_DATA``), the data directory
of the report and the hashes it planned with. The server then holds that directory's file hashes
and validated core tables in memory (:func:`analysis.dataset.hold`, once per data version), so the
forked kernel finds them there instead of hashing and reading the files again; the kernel's read
log still names the contents it used. A kernel started any other way loads normally.

The server reaps its children and tells each client its kernel's exit status at once (SIGCHLD
wakes it); if a client disappears (a launcher killed by jupyter_client, a build worker that
died), the server kills that kernel; if the server's parent (the build) dies, the server exits,
and kernels die with the server (:func:`die_with_parent`: ``PR_SET_PDEATHSIG`` plus a watchdog).
"""
from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import struct
import sys

__all__ = ["ENV_SOCKET", "ENV_HOLD", "PRELOAD", "ForkedKernel", "request_kernel", "launch", "serve",
           "die_with_parent"]

ENV_SOCKET = "ANALYSIS_ZYGOTE_SOCKET"
# JSON {"data_dir": path, "manifest": {table: SHA-256}}: the data a build's report reads.
ENV_HOLD = "ANALYSIS_HOLD_DATA"
# Imported once by the server; the notebooks import them again for free.
PRELOAD = ("numpy", "pandas", "scipy.stats", "statsmodels.formula.api", "matplotlib",
           "matplotlib.figure", "matplotlib.backends.backend_agg", "pandera.pandas", "ipykernel.kernelapp",
           "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger", "matplotlib_inline.backend_inline",
           "IPython", "analysis.report", "analysis.figures", "analysis.audit", "analysis.questions",
           "analysis.scoring", "analysis.stats", "analysis.render", "analysis.workbook", "analysis.document",
           # what every kernel imported while it started (IPython's inspector, debugger and
           # store magic, jupyter_client's interface list through psutil, tornado's asyncio
           # bridge, faulthandler) and what every report imported on its way (the robust
           # covariances of statsmodels, pandas' reshaping, openpyxl's document properties,
           # the codecs of zip names and of a BOM)
           "IPython.core.completerlib", "IPython.core.debugger", "IPython.core.oinspect",
           "IPython.extensions.storemagic", "IPython.utils.wildcard", "pdb", "cProfile", "faulthandler",
           "psutil", "jupyter_client.localinterfaces", "tornado.platform.asyncio", "zmq.utils.garbage",
           "statsmodels.base.covtype", "statsmodels.stats.sandwich_covariance", "statsmodels.tools.grouputils",
           "pandas.core.reshape.reshape", "pandas.core.methods.to_dict", "openpyxl.packaging.extended",
           "encodings.cp437", "encodings.utf_8_sig")
_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _send(sock: socket.socket, obj: dict) -> None:
    data = json.dumps(obj).encode("utf-8")
    sock.sendall(struct.pack("!I", len(data)) + data)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


def _recv(sock: socket.socket) -> dict:
    (size,) = struct.unpack("!I", _recv_exact(sock, 4))
    return json.loads(_recv_exact(sock, size).decode("utf-8"))


def die_with_parent(parent: int | None = None) -> None:
    """Make this process exit when its parent does.

    On Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` has the kernel kill this process the moment
    its parent dies, even by SIGKILL (nothing in the parent has to run); it is one system call
    through ctypes, no polling. A watchdog thread covers what it cannot: other systems, and a
    parent that died before the call was made (then ``getppid()`` has already changed).
    ``parent`` is the pid to watch (default: the current parent).
    """
    import ctypes
    import threading
    import time

    parent = os.getppid() if parent is None else parent
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


# --- clients -------------------------------------------------------------------------------
class ForkedKernel:
    """A kernel the server forked, seen as a :class:`subprocess.Popen` (what jupyter_client's
    local provisioner holds): its pid, its exit status once the server has reaped it
    (``poll``/``wait``), and signals sent to it. The connection to the server stays open while
    the kernel runs; if this process dies, the server kills the kernel."""

    stdin = stdout = stderr = None

    def __init__(self, sock: socket.socket, pid: int):
        self._sock, self.pid, self.returncode = sock, pid, None

    def _read_exit(self) -> None:
        try:
            self.returncode = int(_recv(self._sock)["exit"])
        except (EOFError, OSError, ValueError, KeyError, TypeError):
            self.returncode = 1  # the server is gone, and its kernels with it
        self._sock.close()

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._sock], [], [], 0)[0]:
            self._read_exit()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if timeout is not None and not select.select([self._sock], [], [], timeout)[0]:
                import subprocess

                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self._read_exit()
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # never signal a pid the server has already reaped
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def request_kernel(path: str, connection_file: str, cwd: str, env: dict) -> ForkedKernel | None:
    """Ask the server at ``path`` for a kernel on ``connection_file`` with ``cwd`` and ``env``;
    None when no server answers there (the caller then starts a kernel its own way)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        _send(sock, {"connection_file": connection_file, "cwd": cwd,
                     "env": {k: v for k, v in env.items() if k != ENV_SOCKET}})
        return ForkedKernel(sock, int(_recv(sock)["pid"]))
    except (OSError, EOFError, ValueError, KeyError, TypeError):
        sock.close()
        return None


# --- launcher ------------------------------------------------------------------------------
def launch(connection_file: str) -> int:
    """Ask the server for a kernel on ``connection_file``; fall back to a plain ipykernel."""
    path = os.environ.get(ENV_SOCKET)
    kernel = request_kernel(path, connection_file, os.getcwd(), dict(os.environ)) if path else None
    if kernel is None:
        os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file])
    die_with_parent()

    def forward(signum, _frame):
        if kernel.returncode is None:
            try:
                os.kill(kernel.pid, signum)
            except ProcessLookupError:
                pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, forward)
    return kernel.wait()


# --- server --------------------------------------------------------------------------------
def _become_kernel(request: dict, inherited: list) -> None:
    """In the forked child: drop the server's sockets, take the launcher's environment, run."""
    for s in inherited:
        s.close()
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    die_with_parent()  # the server is this kernel's parent
    gc.enable()  # what the kernel makes is collected; what it inherited stays frozen
    # A report allocates a few million objects in a few seconds and lives as long as one report:
    # with the default thresholds (700, 10, 10) the collector ran ~40 times per report for about
    # 2.5 % of its CPU; at (10 000, 50, 100) it runs about twice, and what a cycle holds (a
    # drawn figure) waits a little longer to be freed, in a process that is about to exit.
    gc.set_threshold(10_000, 50, 100)
    from analysis.dataset import held_only

    held_only(_hold_request(request).get("data_dir"))  # only the data its build planned for it
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    # no input history: a report kernel runs its notebook once, and nobody reads the history
    app.initialize(["-f", request["connection_file"], "--HistoryManager.enabled=False"])
    app.start()


def _hold_request(request: dict) -> dict:
    try:
        wanted = json.loads(request.get("env", {}).get(ENV_HOLD) or "{}")
    except ValueError:
        return {}
    return wanted if isinstance(wanted, dict) and wanted.get("data_dir") else {}


def _hold(request: dict) -> None:
    """Hold the data directory the request names (before forking its kernel)."""
    wanted = _hold_request(request)
    if wanted:
        from analysis.dataset import hold

        hold(wanted["data_dir"], wanted.get("manifest"))


def serve(path: str) -> None:
    """Import the libraries, then fork a kernel for each request on the Unix socket ``path``."""
    import importlib

    parent = os.getppid()
    die_with_parent(parent)  # a build killed while the libraries load leaves no server behind
    # The server's objects live as long as it does; with the collector off here, frozen before
    # each fork and on again in the kernel, a kernel's collections never walk (and so never
    # copy-on-write) the pages of the libraries and data it inherited (Python's gc.freeze docs).
    gc.disable()
    # A build's kernels run headless and nobody attaches a debugger to them: with debugpy
    # marked absent before ipykernel looks for it, neither the server nor a kernel loads
    # pydevd (about 0.3 s of the server's start-up, which every build waits for).
    sys.modules.setdefault("debugpy", None)
    for name in PRELOAD:
        importlib.import_module(name)
    _warm_matplotlib()
    from jupyter_client.localinterfaces import localhost

    localhost()  # the machine's interfaces, which every kernel's connection info asks for, listed once
    from analysis.render import warm

    warm()  # catalogs, locale data, templates, schemes: loaded once, shared by every kernel
    from analysis.report import package_versions

    package_versions()  # read from the installed packages' metadata once
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    os.replace(path + ".tmp", path)  # the socket appears only once the server is ready
    listener.listen(64)
    by_pid: dict[int, socket.socket] = {}
    by_sock: dict[socket.socket, int] = {}
    # a kernel that exits wakes the loop at once (its client is told its exit status now, not
    # at the next poll): SIGCHLD writes to this pipe
    woken, wake = os.pipe()
    for fd in (woken, wake):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    try:
        while os.getppid() == parent:
            readable, _, _ = select.select([listener, woken, *by_sock], [], [], 0.05)
            for sock in readable:
                if sock is woken:
                    while True:
                        try:
                            if not os.read(woken, 512):
                                break
                        except BlockingIOError:
                            break
                elif sock is listener:
                    conn, _ = listener.accept()
                    try:
                        request = _recv(conn)
                    except (EOFError, OSError, ValueError):
                        conn.close()
                        continue
                    _hold(request)
                    gc.freeze()
                    pid = os.fork()
                    if pid == 0:
                        try:
                            signal.set_wakeup_fd(-1)
                            os.close(woken)
                            os.close(wake)
                            _become_kernel(request, [listener, conn, *by_sock])
                        finally:
                            os._exit(0)
                    _send(conn, {"pid": pid})
                    by_pid[pid], by_sock[conn] = conn, pid
                else:  # a client never writes again: readable means it is gone
                    pid = by_sock.pop(sock)
                    by_pid.pop(pid, None)
                    sock.close()
                    _kill(pid)
            _reap(by_pid, by_sock)
    finally:
        for pid in list(by_pid):
            _kill(pid)
        listener.close()
        try:
            os.unlink(path)
        except OSError:
            pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _reap(by_pid: dict, by_sock: dict) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = by_pid.pop(pid, None)
        if conn is not None:
            by_sock.pop(conn, None)
            try:
                _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            except OSError:
                pass
            conn.close()


def _warm_matplotlib() -> None:
    """Load fonts and the Agg and SVG renderers once, so kernels do not each pay for it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from analysis.figures import to_svg

    fig = Figure(figsize=(1, 1))
    fig.add_subplot().set_title("Tổng điểm – Xếp loại")
    FigureCanvasAgg(fig).draw()
    to_svg(fig)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--serve"] and len(argv) == 2:
        for name in _THREAD_ENV:  # one BLAS thread: parallelism comes from workers, and fork is safe
            os.environ.setdefault(name, "1")
        serve(argv[1])
        return 0
    if argv[:1] == ["-f"] and len(argv) == 2:
        return launch(argv[1])
    print("usage: python -m analysis.forkkernel (-f CONNECTION_FILE | --serve SOCKET)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
