"""`mlcli serve RUN_DIR`: the run's serving model over HTTP, speaking TF Serving's REST API.

A client written for TF Serving works unchanged (`POST /v1/models/NAME:predict`, `GET /v1/models/NAME`
and `.../metadata`), and the SavedModel `mlcli export` writes can move to TF Serving as it is. The model
is the one `predict` and every export run (inference/serving.py), so the answers are predict's.
Concurrent requests are batched: one model thread takes whatever requests are waiting (up to
BATCH_ROWS rows) and runs them together. The standard library's threading HTTP server is enough for
trying a model on a laptop; it binds to localhost unless told otherwise. `/` is a page to try it.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import sys
import threading
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from mlcli.errors import UserError
from mlcli.inference import requests
from mlcli.inference.run import load_checkpoint, open_run
from mlcli.inference.serving import serving_model

BATCH_ROWS = 256
MAX_BODY_BYTES = 32 << 20
PAGE = Path(__file__).with_name("serve_page.html")


class Batcher:
    """One thread owns the model: requests queue up while it runs, and are run together next time
    (grouped by input shapes, since images keep their sizes)."""

    def __init__(self, serving):
        self.serving, self.jobs = serving.fast(), queue.Queue()
        threading.Thread(target=self._loop, daemon=True, name="model").start()

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        done: Future = Future()
        self.jobs.put((batch, done))
        return done.result()

    def _loop(self) -> None:
        while True:
            waiting = [self.jobs.get()]
            rows = len(next(iter(waiting[0][0].values())))
            while rows < BATCH_ROWS:
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                waiting.append(job)
                rows += len(next(iter(job[0].values())))
            groups: dict[tuple, list] = {}
            for batch, done in waiting:
                key = tuple((k, v.shape[1:], v.dtype.str) for k, v in sorted(batch.items()))
                groups.setdefault(key, []).append((batch, done))
            for jobs in groups.values():
                self._run(jobs)

    def _run(self, jobs: list) -> None:
        try:
            joined = {k: np.concatenate([b[k] for b, _ in jobs]) for k in jobs[0][0]}
            out = self.serving(joined)
        except Exception as exc:  # the model failed on this input: each waiting request hears why
            for _, done in jobs:
                done.set_exception(exc)
            return
        start = 0
        for batch, done in jobs:
            n = len(next(iter(batch.values())))
            done.set_result(out[start : start + n])
            start += n


_DTYPES = {"float32": "DT_FLOAT", "float64": "DT_DOUBLE", "float16": "DT_HALF"}


def _tensor_info(name: str, tensor) -> dict:
    """A tensor as TF Serving's metadata describes it (dtype enum name, -1 for a free dimension)."""
    dtype = _DTYPES.get(str(tensor.dtype), "DT_" + str(tensor.dtype).upper())  # DT_STRING, DT_INT32, ...
    dims = [{"size": str(-1 if d is None else d), "name": ""} for d in tensor.shape]
    return {"dtype": dtype, "tensor_shape": {"dim": dims, "unknown_rank": False}, "name": name}


class Served:
    """What the handler needs: the model's name, its metadata and a predict over request bodies."""

    def __init__(self, run_dir: Path, checkpoint: str, name: str | None):
        run = open_run(run_dir)
        self.spec = run.spec
        self.label = getattr(run.cfg.data, "label", None)  # a row may carry it, as predict's CSVs may
        self.name = name or run.cfg.name
        model = load_checkpoint(run, checkpoint)
        self.generator = run.spec.task == "generation"  # latents (and labels) in, pixels out
        self.reads = "latent" if self.generator else run.spec.input.reads
        self.latent_dim = model.latent_dim if self.generator else 0
        self.num_classes = model.num_classes if self.generator else 0
        self.serving = serving_model(model, run.spec)
        self.model = Batcher(self.serving)
        self.checkpoint = checkpoint

    def metadata(self) -> dict:
        spec = self.spec
        inputs = [c.name for c in spec.input.columns] if self.reads == "table" else [spec.input.input_name]
        if self.generator:
            inputs = self.serving.inputs
        model = self.serving.model
        tensors = model.input if isinstance(model.input, dict) else {self.serving.inputs[0]: model.input}
        return {
            "model_spec": {"name": self.name, "signature_name": "serving_default", "version": "1"},
            "metadata": {"signature_def": {"signature_def": {"serving_default": {
                "inputs": {n: _tensor_info(n, tensors[n]) for n in self.serving.inputs},
                "outputs": {self.serving.output: _tensor_info(self.serving.output, model.output)},
                "method_name": "tensorflow/serving/predict",
            }}}},
            "mlcli": {"reads": self.reads, "inputs": inputs, "output": self.serving.output,
                      "class_names": spec.class_names or None, "checkpoint": self.checkpoint,
                      **({"latent_dim": self.latent_dim, "num_classes": self.num_classes} if self.generator else {})},
        }  # fmt: skip

    def predict(self, body) -> dict:
        rows, columnar = requests.instances_of(body, self.spec, self.reads)
        if self.generator:
            batches = requests.latents(rows, self.latent_dim, self.num_classes)
        else:
            batches = requests.batches(rows, self.spec, self.label)
        outputs = np.concatenate([self.model(b) for b in batches])
        return requests.response(outputs, columnar)


def handler_for(served: Served, max_body_bytes: int = MAX_BODY_BYTES) -> type[BaseHTTPRequestHandler]:
    base = f"/v1/models/{served.name}"

    class Handler(BaseHTTPRequestHandler):
        server_version = "mlcli-serve"
        protocol_version = "HTTP/1.1"
        timeout = 10  # an idle keep-alive connection is closed, so a SIGTERM's wait for handlers is bounded

        def log_message(self, format: str, *args) -> None:  # one line per request, on stderr
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

        def _send(self, status: int, body: dict | bytes, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._send(status, {"error": message})

        def do_GET(self) -> None:
            path = self.path.split("?")[0].rstrip("/") or "/"
            if path == "/":
                page = PAGE.read_bytes().replace(b"{{NAME}}", served.name.encode())
                self._send(200, page, "text/html; charset=utf-8")
            elif path in (base, f"{base}/versions/1"):
                self._send(200, {"model_version_status": [
                    {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})
            elif path in (f"{base}/metadata", f"{base}/versions/1/metadata"):
                self._send(200, served.metadata())
            else:
                self._error(404, f"no such path {path!r}; the model is at {base}")

        def do_POST(self) -> None:
            path = self.path.split("?")[0]
            if path not in (f"{base}:predict", f"{base}/versions/1:predict"):
                self._error(404, f"no such path {path!r}; POST to {base}:predict")
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self.close_connection = True  # the body (chunked, say) is not read: it must not be parsed as a request
                self._error(411, "a Content-Length header is needed (chunked bodies are not read)")
                return
            if length > max_body_bytes:
                self.close_connection = True
                self._error(413, f"the body is {length:,} bytes; the limit is {max_body_bytes:,} "
                            "(set MLCLI_SERVE_MAX_BYTES to allow more)")
                return
            try:
                body = json.loads(self.rfile.read(length).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                self._error(400, f"the body is not JSON: {exc}")
                return
            except RecursionError:
                self._error(400, "the body is JSON nested too deeply")
                return
            try:
                self._send(200, served.predict(body))
            except RecursionError:
                self._error(400, "an instance is nested too deeply")
            except requests.BadRequest as exc:
                self._error(400, str(exc))
            except Exception as exc:  # never a traceback to the client; the log has the type
                sys.stderr.write(f"error: {type(exc).__name__}: {str(exc)[:500]}\n")
                self._error(500, f"the model failed on this input: {type(exc).__name__}")

    return Handler


def serve_command(run_dir: Path, host: str, port: int, checkpoint: str, name: str | None) -> None:
    import os

    limit = int(os.environ.get("MLCLI_SERVE_MAX_BYTES", MAX_BODY_BYTES))
    if name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise UserError(f"--name {name!r}: use letters, digits, '.', '_' and '-' (it is part of every URL)")
    served = Served(run_dir, checkpoint, name)
    try:
        server = ThreadingHTTPServer((host, port), handler_for(served, limit))
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    # handler threads are joined at exit (server_close), so requests in flight at a SIGTERM are answered
    server.daemon_threads = False
    server.block_on_close = True

    def stop(signum, frame) -> None:  # SIGTERM / SIGINT: finish the requests in flight, then exit 0
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    url = f"http://{host}:{server.server_address[1]}"
    print(f"serving {served.name} ({served.reads} in, {served.serving.output} out) at {url}", flush=True)
    print(f"  POST {url}/v1/models/{served.name}:predict   a page to try it: {url}/", flush=True)
    server.serve_forever()
    server.server_close()
    print("stopped", flush=True)
    sys.stderr.flush()
    # every request is answered: leave now. Python's own exit restores the default SIGTERM action before
    # TensorFlow's slow teardown, and a second SIGTERM then (a supervisor repeating itself) ended the
    # process as "killed" (-15) instead of 0
    os._exit(0)
