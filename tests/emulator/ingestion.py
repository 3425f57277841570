"""A Logs Ingestion API look-alike on 127.0.0.1 over HTTPS (trustme CA): it accepts uploads to
``/dataCollectionRules/{dcr}/streams/{stream}`` with the expected bearer token, and records every batch (the
decompressed JSON rows, the stream, the headers) so tests can count rows, columns and batches."""
from __future__ import annotations

import gzip
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import trustme


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):  # noqa: N802
        srv: "Ingestion" = self.server.ingestion  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        segs = [unquote(s) for s in parts.path.strip("/").split("/")]
        with srv.lock:
            srv.requests.append({"path": parts.path, "query": parse_qs(parts.query),
                                 "headers": {k.lower(): v for k, v in self.headers.items()}})
            n = len(srv.requests)
        if self.headers.get("Authorization") != f"Bearer {srv.token}":
            return self._reply(401, {"error": {"code": "InvalidToken", "message": "bad or missing token"}})
        if len(segs) != 4 or segs[0] != "dataCollectionRules" or segs[2] != "streams":
            return self._reply(404, {"error": {"code": "NotFound", "message": parts.path}})
        if srv.fail_status and (srv.fail_from is None or n >= srv.fail_from):
            return self._reply(srv.fail_status, {"error": {"code": "Refused", "message": "the rule refused it\nline 2"}})
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        rows = json.loads(body)
        with srv.lock:
            srv.batches.append({"dcr": segs[1], "stream": segs[3], "rows": rows,
                                "api_version": parse_qs(parts.query).get("api-version", [""])[0]})
        self._reply(204, None)

    def _reply(self, status, doc):
        data = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)


class Ingestion:
    def __init__(self, *, token: str, ca: trustme.CA, workdir: str | Path):
        self.token, self.lock = token, threading.Lock()
        self.batches: list[dict] = []
        self.requests: list[dict] = []
        self.fail_status: int | None = None
        self.fail_from: int | None = None
        self.ca_file = str(Path(workdir) / "ingestion-ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._server.ingestion = self  # type: ignore[attr-defined]
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "Ingestion":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def rows(self) -> list[dict]:
        return [r for b in self.batches for r in b["rows"]]
