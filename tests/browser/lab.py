"""Driving JupyterLab in headless Chromium: a server on 127.0.0.1 that the test starts and stops, and the UI steps.

Playwright for Python drives Debian's ``chromium`` (``executable_path``); it never downloads
a browser of its own. Every wait is bounded; a server and the kernels it started are
stopped with its process group, whatever the test did.
"""

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("CS231N_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SERVER_START_SECONDS = 90
STDERR_MIME = "application/vnd.jupyter.stderr"


def browser_unavailable_reason() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"no chromium at {CHROMIUM} (Debian: apt-get install chromium; `make test` tries to install it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"Playwright for Python is not installed ({error}); it is in pyproject.toml's test extra"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JupyterServer:
    """``jupyter <app>`` serving ``root`` on 127.0.0.1 with a random token; a context manager."""

    def __init__(self, jupyter: Path, root: Path, log: Path, app: str = "lab", cwd: Path | None = None,
                 env: dict | None = None):
        self.jupyter, self.root, self.log, self.app = Path(jupyter), Path(root), Path(log), app
        self.cwd = Path(cwd or root)
        self.env = env
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.process = None

    def url(self, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}{separator}token={self.token}"

    def __enter__(self):
        command = [str(self.jupyter), self.app, "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.root}"]
        if os.geteuid() == 0:
            command.append("--allow-root")   # CI and this machine run as root
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, env=self.env)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"jupyter {self.app} did not answer within {SERVER_START_SECONDS} s:\n{self.log_tail()}")

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """SIGTERM to the server's process group (its kernels included), SIGKILL after 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


class NotebookPage:
    """One notebook open in JupyterLab, and what a student does with it."""

    def __init__(self, page, server: JupyterServer, path: str):
        self.page, self.server, self.path = page, server, path

    def open(self, timeout: float = 90):
        # A workspace of its own: JupyterLab would otherwise reopen the notebooks of earlier tests.
        self.page.goto(self.server.url(f"lab/workspaces/{secrets.token_hex(6)}/tree/{self.path}"))
        self.page.wait_for_selector(".jp-NotebookPanel", timeout=timeout * 1000)
        self.wait_for(lambda: "Idle" in self.status_bar(), timeout, "the kernel to start")
        news = self.page.get_by_role("button", name="No", exact=True)   # JupyterLab asks once about news
        if news.count():
            news.first.click()
        return self

    def status_bar(self) -> str:
        return " ".join(self.page.locator(".jp-StatusBar-Widget").all_text_contents())

    def menu(self, menu: str, command: str):
        """Click a menu of the menu bar, then the item running ``command`` (its data-command)."""
        self.page.get_by_role("menuitem", name=menu, exact=True).click()
        self.page.locator(f".lm-Menu-item[data-command='{command}']").click()

    def run_all(self):
        self.menu("Run", "runmenu:run-all")

    def save(self):
        self.menu("File", "docmanager:save")
        self.wait_for(lambda: not self.page.locator(".jp-mod-dirty").count(), 30, "the notebook to be saved")

    def prompts(self) -> list[str]:
        """The execution prompt of every code cell, e.g. '[3]:', '[*]:' or '[ ]:'."""
        return [text.strip() for text in self.page.locator(".jp-CodeCell .jp-InputArea-prompt").all_text_contents()]

    def wait_until_every_cell_ran(self, timeout: float):
        """Until every code cell shows an execution count (none running, none left)."""
        self.wait_for(lambda: all(re.fullmatch(r"\[\d+\]:", prompt) for prompt in self.prompts()), timeout,
                      "every code cell to run")

    def outputs(self, mime: str | None = None) -> list[str]:
        """The text of every output (of one MIME type), rendered or not (textContent)."""
        selector = ".jp-OutputArea-output" + (f"[data-mime-type='{mime}']" if mime else "")
        return self.page.locator(selector).all_text_contents()

    def first_error(self, timeout: float) -> str:
        """The text of the first traceback shown, waiting for one."""
        self.wait_for(lambda: any("Error" in text for text in self.outputs(STDERR_MIME)), timeout, "an error")
        return next(text for text in self.outputs(STDERR_MIME) if "Error" in text)

    def validate(self, timeout: float) -> str:
        """Press nbgrader's Validate button; the text of the dialog with its verdict (then closed)."""
        self.page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True).click()
        dialog = self.page.locator(".jp-Dialog")
        self.wait_for(lambda: re.search(r"Success|FAILED|failed|error", " ".join(dialog.all_text_contents())),
                      timeout, "validate's verdict")
        return " ".join(dialog.all_text_contents())

    def close_dialog(self):
        self.page.locator(".jp-Dialog .jp-Dialog-button").last.click()

    def screenshot(self, path: Path, element=None):
        """A picture of the page with ``element`` (a locator) scrolled into view."""
        if element is not None:
            element.scroll_into_view_if_needed()
            time.sleep(0.5)   # let the scrolled content paint
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))

    def wait_for(self, condition, timeout: float, what: str, every: float = 0.5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(every)
        raise AssertionError(f"{self.path}: waited {timeout:g} s for {what}; prompts {self.prompts()}")
