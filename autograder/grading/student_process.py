"""The program that runs INSIDE the sandbox: the student's code lives here and answers requests.

Usage (the grader starts it; nothing here is meant for people)::

    python -I -S student_process.py PACKAGES HOME MODE LIBRARY

``PACKAGES`` is the grading environment's site-packages, ``HOME`` the folder holding the
student's library (and the working folder), ``MODE`` is ``library`` (import the library,
then answer calls) or ``notebook`` (an IPython shell that runs the student's cells one
request at a time, then answers calls on what they defined), ``LIBRARY`` the library's
package name (``cs231n_lib``).

Requests arrive on standard input and answers leave on standard output, as frames of
``wire.py`` (loaded from this file's folder). Whatever the student's code writes to file
descriptors 1 and 2 goes to standard error, never into the answers. This program never sees
a grade cell, a hidden test or an expected value: it runs what it is sent and returns what
the student's code returned. Everything it answers is read by the grader as untrusted data
(the student's code shares this process and may have changed anything in it, this program
included), so nothing here needs to be tamper-proof.

Stand-alone on purpose: the standard library, NumPy and (notebook mode) IPython only.
"""

import importlib
import io
import os
import signal
import sys
import traceback

MAX_TEXT = 64 * 2**10          # kept of what one request printed, per stream
MAX_MESSAGE = 2000             # characters kept of an exception message
MAX_DISPLAYS = 20              # rich outputs kept per cell
MAX_IMAGE_CHARS = 2 * 2**20    # one base64 PNG


class CallTimedOut(BaseException):
    """Raised by the alarm inside the student's code; a BaseException, so ``except Exception`` misses it."""


class Refused(Exception):
    """A request this program will not carry out (an unknown handle, a malformed request)."""


class BoundedText(io.TextIOBase):
    """A text stream that keeps the first ``MAX_TEXT`` characters and counts the rest."""

    def __init__(self):
        self.parts, self.kept, self.dropped = [], 0, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = MAX_TEXT - self.kept
        self.parts.append(text[:room])
        self.kept += min(len(text), room)
        self.dropped += max(0, len(text) - room)
        return len(text)

    def getvalue(self):
        text = "".join(self.parts)
        return text + (f"\n[... {self.dropped} more characters]" if self.dropped else "")


def main(argv):
    packages, home, mode, library = argv[1:5]
    # The answers get private copies of the pipes; fd 0 and 1 become harmless for the student.
    requests_fd, answers_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p.startswith(sys.base_prefix)] + [packages, here]
    import wire
    import numpy as np
    sys.path.remove(here)
    sys.path.append(home)
    os.chdir(home)
    server = Server(wire, np, home, mode, library)
    reader = wire.FrameReader(requests_fd, wire.Limits(payload_bytes=2**31))
    signal.signal(signal.SIGALRM, _on_alarm)
    while True:
        try:
            message, payload = reader.read()
        except EOFError:
            return 0
        answer = server.answer(message, payload)
        wire.write_all(answers_fd, answer)
        if message.get("op") == "exit":
            return 0


def _on_alarm(signum, frame):
    raise CallTimedOut()


class Server:
    def __init__(self, wire, np, home, mode, library):
        self.wire, self.np = wire, np
        self.library = library
        self.root = os.path.realpath(os.path.join(home, library))
        self.mode = mode
        self.objects = {}           # handle -> object (kept alive, so ids stay unique)
        self.handles = {}           # id(object) -> handle
        self.shell = self._start_shell() if mode == "notebook" else None

    # ------------------------------------------------------------------ dispatch

    def answer(self, message, payload):
        request_id = message.get("id")
        out, err = BoundedText(), BoundedText()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        reply = {"id": request_id, "ok": True}
        encoder = self.wire.Encoder(handle_of=self._handle_node)
        try:
            operation = getattr(self, "op_" + str(message.get("op")), None)
            if operation is None:
                raise Refused(f"unknown request {message.get('op')!r}")
            decoder = self.wire.Decoder(payload, self.wire.Limits(payload_bytes=2**31), ref=self._object_of,
                                        instance=self._instance, writable=True)
            reply.update(operation(message, decoder, encoder))
        except BaseException as error:  # the student's error, whatever it is; report it and carry on
            encoder = self.wire.Encoder(handle_of=self._handle_node)
            reply = {"id": request_id, "ok": False, "error": describe(error, self.root)}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = saved
        reply["stdout"], reply["stderr"] = out.getvalue(), err.getvalue()
        try:
            return self.wire.encode_frame(reply, encoder.payload)
        except (ValueError, TypeError) as error:   # e.g. text that JSON cannot hold
            return self.wire.encode_frame({"id": request_id, "ok": False, "error": describe(error, self.root)}, [])

    def _timed(self, message, action):
        timeout = float(message.get("timeout") or 0)
        if timeout > 0:
            signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return action()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    # ------------------------------------------------------------------ requests

    def op_hello(self, message, decoder, encoder):
        return {"value": encoder.node({"pid": os.getpid(), "mode": self.mode})}

    def op_exit(self, message, decoder, encoder):
        return {}

    def op_import(self, message, decoder, encoder):
        """The library (``module`` ""), one of its modules, or an attribute path inside one."""
        module_name = str(message.get("module") or "")
        def load():
            module = importlib.import_module(self.library + ("." + module_name if module_name else ""))
            self._require_inside(module)
            target = module
            for part in filter(None, str(message.get("attr") or "").split(".")):
                target = getattr(target, part)
            return target
        return {"value": encoder.node(self._timed(message, load), containers_as_handles=True)}

    def op_name(self, message, decoder, encoder):
        if self.shell is None:
            raise Refused("names exist only in notebook mode")
        name = str(message.get("name"))
        if name not in self.shell.user_ns:
            raise NameError(f"name {name!r} is not defined")
        return {"value": encoder.node(self.shell.user_ns[name], containers_as_handles=True)}

    def op_getattr(self, message, decoder, encoder):
        target = self._object_of(message.get("ref"))
        value = self._timed(message, lambda: getattr(target, str(message.get("name"))))
        return {"value": encoder.node(value, containers_as_handles=True)}

    def op_setattr(self, message, decoder, encoder):
        target = self._object_of(message.get("ref"))
        value = decoder.value(message.get("value"))
        self._timed(message, lambda: setattr(target, str(message.get("name")), value))
        return {}

    def op_getitem(self, message, decoder, encoder):
        target = self._object_of(message.get("ref"))
        key = decoder.value(message.get("key"))
        return {"value": encoder.node(self._timed(message, lambda: target[key]), containers_as_handles=True)}

    def op_setitem(self, message, decoder, encoder):
        target = self._object_of(message.get("ref"))
        key, value = decoder.value(message.get("key")), decoder.value(message.get("value"))
        self._timed(message, lambda: target.__setitem__(key, value))
        return {}

    def op_call(self, message, decoder, encoder):
        function = self._object_of(message.get("ref"))
        args = decoder.value(message.get("args", {"l": []}))
        kwargs = decoder.value(message.get("kwargs", {"d": []}))
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise Refused("a call needs a list of arguments and a dict of keywords")
        if message.get("seed") is not None:
            self.np.random.seed(int(message["seed"]))

        def call():
            value = function(*args, **kwargs)
            for part in filter(None, str(message.get("then_getattr") or "").split(".")):
                value = getattr(value, part)
            return value
        return {"value": encoder.node(self._timed(message, call))}

    def op_list(self, message, decoder, encoder):
        target = self._object_of(message.get("ref"))
        return {"value": encoder.node(self._timed(message, lambda: list(target)))}

    def op_len(self, message, decoder, encoder):
        target = self._object_of(message.get("ref"))
        return {"value": int(self._timed(message, lambda: len(target)))}

    def op_isinstance(self, message, decoder, encoder):
        target, cls = self._object_of(message.get("ref")), self._object_of(message.get("cls"))
        return {"value": bool(self._timed(message, lambda: isinstance(target, cls)))}

    def op_seed(self, message, decoder, encoder):
        self.np.random.seed(int(message.get("seed", 0)))
        return {}

    def op_free(self, message, decoder, encoder):
        for handle in message.get("refs", []):
            obj = self.objects.pop(handle, None)
            if obj is not None:
                self.handles.pop(id(obj), None)
        return {}

    def op_run_cell(self, message, decoder, encoder):
        """Run one cell of the student's notebook; report how it ended and what it showed."""
        if self.shell is None:
            raise Refused("cells run only in notebook mode")
        self.displays.clear()
        result = self._timed(message, lambda: self.shell.run_cell(str(message.get("code", "")),
                                                                  store_history=True))
        error = result.error_before_exec or result.error_in_exec
        return {"value": encoder.node({"status": "ok" if error is None else "error",
                                       "error": None if error is None else describe(error, self.root),
                                       "displays": list(self.displays)})}

    # ------------------------------------------------------------------ objects

    def _handle_node(self, obj):
        handle = self.handles.get(id(obj))
        if handle is None:
            handle = len(self.objects) + 1
            while handle in self.objects:
                handle += 1
            self.objects[handle] = obj
            self.handles[id(obj)] = handle
        kind = type(obj)
        return {"h": handle, "ty": f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', '?')}"[:200],
                "c": callable(obj)}

    def _object_of(self, handle):
        if handle not in self.objects:
            raise Refused(f"no object has handle {handle!r}")
        return self.objects[handle]

    def _instance(self, class_path, state):
        """An object of a library class sent by value: made without ``__init__``, then given its state."""
        module_name, _, qualname = class_path.partition(":")
        if module_name.split(".")[0] != self.library:
            raise Refused(f"objects of {class_path!r} cannot be sent; only the library's classes")
        module = importlib.import_module(module_name)
        cls = module
        for part in qualname.split("."):
            cls = getattr(cls, part)
        instance = object.__new__(cls)
        if isinstance(state, dict):
            instance.__dict__.update(state)
        return instance

    def _require_inside(self, module):
        location = os.path.realpath(getattr(module, "__file__", None) or "")
        if not location.startswith(self.root + os.sep):
            raise ImportError(f"{module.__name__} was imported from {location or 'nowhere'}, "
                              f"not from the submitted {self.library}")

    # ------------------------------------------------------------------ the notebook's shell

    def _start_shell(self):
        from IPython.core.displayhook import DisplayHook
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config

        displays = self.displays = []

        def keep(data):
            if len(displays) >= MAX_DISPLAYS:
                return
            kept = {}
            text, image = data.get("text/plain"), data.get("image/png")
            if isinstance(text, str):
                kept["text/plain"] = text[:MAX_TEXT]
            if isinstance(image, str) and len(image) <= MAX_IMAGE_CHARS:
                kept["image/png"] = image
            if kept:
                displays.append(kept)

        class Publisher(DisplayPublisher):
            def publish(self, data, metadata=None, *args, **kwargs):
                keep(data)

        class Hook(DisplayHook):
            def write_output_prompt(self):
                pass

            def write_format_data(self, format_dict, md_dict=None):
                keep(dict(format_dict, result=True))

        config = Config()
        config.HistoryManager.enabled = False
        config.InteractiveShell.colors = "NoColor"
        shell = InteractiveShell.instance(config=config)
        shell.display_pub = Publisher(shell=shell)
        shell.displayhook = Hook(shell=shell, cache_size=0)
        shell.showtraceback = lambda *args, **kwargs: None   # the error is reported, not printed
        shell.enable_gui = lambda gui=None: None               # no event loop here: figures are captured
        return shell


def describe(error, library_root=""):
    """{type, message, where, timeout} of an exception raised by the student's code (whose library is at
    ``library_root``)."""
    message = str(error) if not isinstance(error, CallTimedOut) else "the time limit was reached"
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + " [...]"
    frames = traceback.extract_tb(error.__traceback__)
    # The innermost frame of the student's code says where to look.
    where = next((f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in reversed(frames)
                  if (library_root and f.filename.startswith(library_root)) or f.filename.startswith("<ipython-input")
                  or "ipykernel_" in f.filename or f.filename.startswith("<cell")), None)
    return {"type": type(error).__name__[:80], "message": message, "where": where,
            "timeout": isinstance(error, CallTimedOut)}


if __name__ == "__main__":
    sys.exit(main(sys.argv))
