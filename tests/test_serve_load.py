"""Load on a real server (loopback): clients that send headers and a few bytes of a body, then
wait, hold connections but no place among the requests being answered; normal requests beside
them keep being answered, and the slow bodies get 408 when their time is up."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import replace

import httpx
import pytest

from postergenre.bundle import load_bundle
from postergenre.serve import Limits, create_app

from .bundles import poster
from .serving import build_served_bundle, png, running

SLOW_CLIENTS = 64
LIMITS = replace(Limits(), max_requests=16, body_timeout_s=3.0, timeout_s=20)
SLOW_HEAD = (b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 50000\r\n\r\n"
             b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n\r\n")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    bundle = load_bundle(build_served_bundle(tmp_path_factory.mktemp("load") / "model"))
    with running(create_app(bundle, LIMITS)) as address:
        yield address


def slow_clients(url: str, n: int) -> list[socket.socket]:
    host, port = url.removeprefix("http://").split(":")
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(SLOW_HEAD + b"\x89PNG")  # ... and nothing more
        socks.append(s)
    return socks


async def normal_clients(url: str, seconds: float, clients: int = 4) -> list[tuple[int, float]]:
    """(status, seconds) of every request ``clients`` send one after another for ``seconds``."""
    data = png(poster((220, 20, 20)))
    done: list[tuple[int, float]] = []
    end = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        async def one_client():
            while time.perf_counter() < end:
                start = time.perf_counter()
                r = await client.post("/v1/predict", files=[("files", ("r.png", data))])
                done.append((r.status_code, time.perf_counter() - start))

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return done


def test_slow_bodies_do_not_stop_normal_requests(url):
    started = time.perf_counter()
    socks = slow_clients(url, SLOW_CLIENTS)
    try:
        answered = asyncio.run(normal_clients(url, seconds=1.5))
        statuses = {status for status, _ in answered}
        assert statuses == {200}, answered
        assert len(answered) >= 8 and max(t for _, t in answered) < 5, answered
        for s in socks:  # each slow body gets 408 once body_timeout_s has passed
            head = s.recv(200)
            assert head.startswith(b"HTTP/1.1 408"), head
        assert time.perf_counter() - started < LIMITS.body_timeout_s + 3
    finally:
        for s in socks:
            s.close()
    # the places they never held are all free again
    assert {status for status, _ in asyncio.run(normal_clients(url, 0.3))} == {200}
