"""A real HTTP server on 127.0.0.1 that serves fixture images and injects faults by URL path.

    /img/NAME          the image NAME (404 if unknown)
    /missing/NAME      404
    /error/NAME        503, always
    /flaky/N/NAME      500 for the first N requests, then the image
    /ratelimit/N/NAME  429 with Retry-After: 0 for the first N requests, then the image
    /slow/NAME         says nothing for ``slow_seconds``, then the image
    /drip/NAME         the image one byte every 0.1 s (each read is quick, the whole is not)
    /truncated/NAME    declares the full length, sends half, closes
    /cut/N/NAME        truncated for the first N requests, then the image
    /html/NAME         an HTML error page served as image/jpeg
    /loop/NAME         redirects to itself
    /redirect/NAME     redirects to /img/NAME
    /huge/NAME         declares a Content-Length of 1 TB
    /endless/NAME      no Content-Length, zeros until the client hangs up

``hits`` counts requests per path; ``delay`` slows every image answer (half before the body,
half in the middle of it) so that a run can be killed mid-download.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
}
HTML = b"<!doctype html><html><body><h1>Service unavailable</h1></body></html>"


class FaultServer:
    def __init__(self, images: dict[str, bytes], slow_seconds: float = 2.0):
        self.images = dict(images)
        self.slow_seconds = slow_seconds
        self.delay = 0.0
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _count(self, path: str) -> int:
        with self._lock:
            self.hits[path] += 1
            return self.hits[path]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeouts, size limits): expected here

            def do_GET(self):
                n = server._count(self.path)
                route = self.path.split("?", 1)[0]  # hits count the query, routes ignore it
                kind, _, rest = route.lstrip("/").partition("/")
                if kind in ("flaky", "ratelimit", "cut"):
                    first, _, rest = rest.partition("/")
                    if n <= int(first):
                        if kind == "flaky":
                            return self._status(500)
                        if kind == "ratelimit":
                            return self._status(429, {"Retry-After": "0"})
                        return self._image(rest, truncate=True)
                    kind = "img"
                if kind == "img":
                    return self._image(rest)
                if kind == "missing":
                    return self._status(404)
                if kind == "error":
                    return self._status(503)
                if kind == "slow":
                    time.sleep(server.slow_seconds)
                    return self._image(rest)
                if kind == "drip":
                    return self._image(rest, drip=0.1)
                if kind == "truncated":
                    return self._image(rest, truncate=True)
                if kind == "html":
                    return self._send(HTML, "image/jpeg")
                if kind == "loop":
                    return self._status(302, {"Location": self.path})
                if kind == "redirect":
                    return self._status(302, {"Location": f"/img/{rest}"})
                if kind == "huge":
                    self._headers(
                        200, {"Content-Type": "image/jpeg", "Content-Length": str(10**12)}
                    )
                    self.wfile.write(b"\xff\xd8" + b"\0" * 1000)
                    return
                if kind == "endless":
                    self._headers(200, {"Content-Type": "image/jpeg"})
                    for _ in range(2000):  # stops at 128 MB if nobody hangs up
                        self.wfile.write(b"\0" * 65536)
                    return
                return self._status(404)

            def _headers(self, code: int, headers: dict[str, str]):
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()

            def _status(self, code: int, headers: dict[str, str] | None = None):
                body = f"status {code}".encode()
                self._headers(code, {"Content-Length": str(len(body)), **(headers or {})})
                self.wfile.write(body)

            def _send(self, data: bytes, content_type: str):
                self._headers(200, {"Content-Type": content_type, "Content-Length": str(len(data))})
                self.wfile.write(data)

            def _image(self, name: str, truncate: bool = False, drip: float = 0.0):
                data = server.images.get(name)
                if data is None:
                    return self._status(404)
                ext = name.rsplit(".", 1)[-1].lower()
                self._headers(
                    200,
                    {
                        "Content-Type": CONTENT_TYPES.get(ext, "application/octet-stream"),
                        "Content-Length": str(len(data)),
                    },
                )
                if truncate:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    return  # the connection closes with the body half sent
                if drip:
                    for i in range(len(data)):
                        self.wfile.write(data[i : i + 1])
                        time.sleep(drip)
                    return
                half = len(data) // 2
                time.sleep(server.delay / 2)
                self.wfile.write(data[:half])
                self.wfile.flush()
                time.sleep(server.delay / 2)
                self.wfile.write(data[half:])

        return Handler


if __name__ == "__main__":  # serve a folder of images by hand: python tests/fetch_server.py DIR
    import sys
    from pathlib import Path

    folder = Path(sys.argv[1])
    with FaultServer({p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}) as s:
        print(f"serving {folder} at {s.base}/img/NAME", flush=True)
        threading.Event().wait()
