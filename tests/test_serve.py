"""`mlcli serve`: the console script on a free loopback port, TF Serving-format requests for an image, a
text and a table run, answered exactly as `mlcli predict` answers the same inputs; bad payloads are
400/413 with a message; SIGTERM ends it cleanly."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MLCLI, ROOT, cli
from tests.test_one_path import _table_csv
from tests.test_real_inputs import NEGATIVE, POSITIVE, mixed_image_folder, multilingual_folder

pytestmark = pytest.mark.slow  # trains through the CLI: `make test-fast` leaves it out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_metadata_is_the_saved_models(meta: dict, run: Path, tmp_path: Path) -> None:
    """`/metadata` describes the inputs and output as TensorFlow describes the exported SavedModel's
    signature (the model a user moves to TF Serving)."""
    import tensorflow as tf
    from tensorflow.core.framework import types_pb2

    out = tmp_path / "signature_of"
    assert cli("export", run, "--format", "saved_model", "--out", out).exit_code == 0
    signature = tf.saved_model.load(str(out)).signatures["serving_default"]
    expected = {"inputs": signature.structured_input_signature[1], "outputs": signature.structured_outputs}
    served = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    for side, specs in expected.items():
        assert sorted(served[side]) == sorted(specs), (side, served[side])
        for name, spec in specs.items():
            info = served[side][name]
            assert info["dtype"] == types_pb2.DataType.Name(spec.dtype.as_datatype_enum), (name, info)
            dims = [int(d["size"]) for d in info["tensor_shape"]["dim"]]
            assert dims == [-1 if d is None else d for d in spec.shape], (name, info)


class Server:
    def __init__(self, run: Path, env: dict | None = None):
        import os

        self.port = free_port()
        self.proc = subprocess.Popen([*MLCLI, "serve", str(run), "--port", str(self.port), "--name", "m"], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            try:
                self.get("/v1/models/m")
                return
            except (urllib.error.URLError, ConnectionError):
                assert self.proc.poll() is None and time.monotonic() < deadline, self.proc.stderr.read()[-2000:]
                time.sleep(0.3)

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
            return json.loads(r.read())

    def post(self, body: bytes | dict, path: str = "/v1/models/m:predict") -> tuple[int, dict]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def stop(self) -> tuple[int, str]:
        """SIGTERM, repeated every 50 ms until the process is gone, as an impatient supervisor does: exit 0
        all the same (a repeat that came while Python was exiting used to end it as killed, -15)."""
        deadline = time.monotonic() + 30
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.proc.send_signal(signal.SIGTERM)
            time.sleep(0.05)
        out, _ = self.proc.communicate(timeout=30)
        return self.proc.returncode, out


def predicted(run: Path, tmp_path: Path, *args) -> np.ndarray:
    """`mlcli predict`'s probabilities, in class order."""
    out = tmp_path / "p.json"
    result = cli("predict", run, *args, "--out", out, "--top-k", "99", "--force")
    assert result.exit_code == 0, result.output
    names = json.loads((run / "data_spec.json").read_text())["class_names"]
    rows = json.loads(out.read_text(encoding="utf-8"))
    return np.array([[{p["class"]: p["probability"] for p in r["predictions"]}[c] for c in names] for r in rows])


def train(tmp_path: Path, name: str, data: str, model: str) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"name: {name}\nseed: 0\ndata: {data}\nmodel: {model}\n"
                      "training: {epochs: 2, tensorboard: false, plots: false}\n", encoding="utf-8")  # fmt: skip
    result = cli("train", config, "--run-dir", tmp_path / name, "--quiet")
    assert result.exit_code == 0, result.output
    return tmp_path / name


def test_an_image_run_answers_tf_serving_requests_as_predict_does(tmp_path: Path):
    files = mixed_image_folder(tmp_path / "images")
    run = train(tmp_path, "shapes", f"{{source: image_folder, path: '{tmp_path / 'images'}', image_size: [12, 16], "
                "batch_size: 4}", "{type: cnn, blocks: [{filters: 4}]}")  # fmt: skip
    expected = predicted(run, tmp_path, *map(str, files[:4]))
    bad_name = subprocess.run([*MLCLI, "serve", str(run), "--name", 'x"</script>'], capture_output=True, text=True,
                              timeout=120)  # fmt: skip
    assert bad_name.returncode == 2 and "use letters, digits" in bad_name.stderr, bad_name.stderr
    server = Server(run, env={"MLCLI_SERVE_MAX_BYTES": "200000", "MLCLI_SERVE_MAX_PIXELS": "5000"})
    try:
        status = server.get("/v1/models/m")["model_version_status"][0]
        assert status["state"] == "AVAILABLE"
        meta = server.get("/v1/models/m/metadata")
        assert meta["mlcli"]["class_names"] == json.loads((run / "data_spec.json").read_text())["class_names"]
        assert_metadata_is_the_saved_models(meta, run, tmp_path)
        images = [{"b64": base64.b64encode(f.read_bytes()).decode()} for f in files[:4]]  # each at its own size
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (100, 80)).save(buffer, "PNG")
        big_png = base64.b64encode(buffer.getvalue()).decode()
        code, body = server.post({"instances": images})
        assert code == 200, body
        np.testing.assert_allclose(body["predictions"], expected, atol=2e-6)
        code, body = server.post({"signature_name": "serving_default", "inputs": {"image": images[:2]}})
        assert code == 200 and np.allclose(body["outputs"], expected[:2], atol=2e-6), body
        page = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=30).read().decode()
        assert "<title>mlcli serve: m</title>" in page and "/v1/models/${model}:predict" in page
        for payload, message in (
            (b"not json", "the body is not JSON"),
            ({"instances": [{"b64": "@@@"}]}, 'instance 0: "b64" is not base64'),
            ({"instances": [{"b64": base64.b64encode(b"GIF89a broken").decode()}]}, "not an image TensorFlow"),
            ({"instances": [[[1, 2], [3, 4]]]}, "this run takes (height, width, 3)"),
            ({"instances": [{"b64": big_png}]}, "a 100x80 image (8,000 pixels) is above the limit of 5,000"),
            ({"rows": []}, 'either "instances" (a list) or "inputs"'),
            (b"x" * 300_000, "the limit is 200,000"),
        ):
            code, body = server.post(payload)
            assert code in (400, 413) and message in body["error"] and "Traceback" not in body["error"], body
            assert (code == 413) == (isinstance(payload, bytes) and len(payload) > 200_000)
        assert server.post({"instances": images[:1]}, path="/v1/models/other:predict")[0] == 404
    finally:
        code, out = server.stop()
    assert code == 0 and "stopped" in out


def test_text_and_table_runs_answer_as_predict_does(tmp_path: Path):
    root = multilingual_folder(tmp_path / "texts", copies=2)
    text_run = train(tmp_path, "reviews", f"{{source: text_folder, path: '{root}', batch_size: 8}}",
                     "{type: rnn, units: [8]}")  # fmt: skip
    texts = [POSITIVE[0], NEGATIVE[2], "Ünïcödé 😀 ничего"]
    expected = predicted(text_run, tmp_path, *[a for t in texts for a in ("--text", t)])
    server = Server(text_run)
    try:
        code, body = server.post({"instances": texts})
        assert code == 200 and np.allclose(body["predictions"], expected, atol=2e-6), body
        code, body = server.post({"instances": [{"text": texts[0]}]})  # the named form TF Serving also takes
        assert code == 200 and np.allclose(body["predictions"], expected[:1], atol=2e-6), body
        code, body = server.post({"instances": [3]})
        assert code == 400 and "this run reads text" in body["error"]
        code, body = server.post({"instances": ["\ud800"]})  # valid JSON, not valid Unicode
        assert code == 400 and "not valid Unicode" in body["error"], body
        code, body = server.post(b"[" * 100_000)
        assert code == 400 and "nested too deeply" in body["error"], body
        # a request still arriving when SIGTERM comes is answered before the server exits
        body = json.dumps({"instances": texts}).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
            conn.sendall(b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])  # fmt: skip
            time.sleep(0.5)
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            conn.sendall(body[10:])
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        head, _, payload = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), reply[:300]
        assert np.allclose(json.loads(payload)["predictions"], expected, atol=2e-6)
    finally:
        assert server.stop()[0] == 0
    _table_csv(tmp_path / "table.csv")
    table_run = train(tmp_path, "table", f"{{source: csv, path: '{tmp_path / 'table.csv'}', label: label, "
                      "batch_size: 16, columns: {id: ignore}}", "{type: mlp, layers: [8]}")  # fmt: skip
    expected = predicted(table_run, tmp_path, str(tmp_path / "table.csv"))[:3]
    import csv

    rows = list(csv.DictReader((tmp_path / "table.csv").open(encoding="utf-8")))[:3]
    instances = [{k: (None if v == "" else v) for k, v in r.items() if k in ("city", "income", "note")} for r in rows]
    server = Server(table_run)
    try:
        assert_metadata_is_the_saved_models(server.get("/v1/models/m/metadata"), table_run, tmp_path)
        code, body = server.post({"instances": [dict(reversed(list(i.items()))) for i in instances]})  # any order
        assert code == 200 and np.allclose(body["predictions"], expected, atol=2e-6), body
        code, body = server.post({"inputs": {k: [i[k] for i in instances] for k in instances[0]}})
        assert code == 200 and np.allclose(body["outputs"], expected, atol=2e-6), body
        with_label = [{**i, "label": r["label"]} for i, r in zip(instances, rows)]  # as in predict's CSV
        code, body = server.post({"instances": with_label})
        assert code == 200 and np.allclose(body["predictions"], expected, atol=2e-6), body
        code, body = server.post({"instances": [{**instances[0], "colour": "red"}]})
        assert code == 400 and "unknown column(s) 'colour'" in body["error"], body
    finally:
        assert server.stop()[0] == 0
