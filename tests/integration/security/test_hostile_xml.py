"""A hostile-XML corpus against POST /cim and SOAP, over real HTTP: each document is
answered with its coded error, nothing is fetched, the server stays up (a valid message
right after is accepted) and its memory stays bounded — even under a 1 GB streamed body.
"""

from __future__ import annotations

import re
import resource
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cimhub.endpoints.soap import envelope_bytes
from cimhub.settings import Settings
from cimhub.testing.databases import sqlite_url
from cimhub.testing.server import running_hub
from cimhub.testing.tenancy import MESSAGES, TENANT_A, as_tenant

CAP = 8 * 1024 * 1024  # CIMHUB_MAX_MESSAGE_BYTES for this hub
GIGABYTE = 1024**3
CHUNK = 1024 * 1024
#: Peak resident memory may grow by this much over the whole corpus (a correctness
#: bound: buffering the 1 GB body, or expanding an entity bomb, would blow it).
MEMORY_BOUND = 400 * 1024 * 1024
VALID = (MESSAGES / "MeterReadings/created-interval-15min-2meters.xml").read_bytes()
SOAP_OPEN = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
)
SOAP_CLOSE = b"</soapenv:Body></soapenv:Envelope>"
ROOT_OPEN = b'<m:CreatedMeterReadings xmlns:m="http://iec.ch/TC57/2011/MeterReadingsMessage">'
ROOT_CLOSE = b"</m:CreatedMeterReadings>"


class Listener:
    """A TCP port that records whether anything connected (an XXE fetching it)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.0)
        self.port = self.socket.getsockname()[1]

    def contacted(self) -> bool:
        try:
            connection, _ = self.socket.accept()
        except BlockingIOError:
            return False
        connection.close()
        return True


def _doc(doctype: bytes, body: bytes, soap: bool) -> bytes:
    """An XML declaration, a DOCTYPE naming the root, and the root around ``body``."""
    head = b'<?xml version="1.0" encoding="UTF-8"?>'
    if soap:
        return head + doctype.replace(b"ROOT", b"soapenv:Envelope") + SOAP_OPEN + body + SOAP_CLOSE
    return (
        head + doctype.replace(b"ROOT", b"m:CreatedMeterReadings") + ROOT_OPEN + body + ROOT_CLOSE
    )


def billion_laughs(soap: bool, _port: int) -> bytes:
    entities = b'<!ENTITY lol0 "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10)
    )
    return _doc(b"<!DOCTYPE ROOT [" + entities + b"]>", b"<x>&lol9;</x>", soap)


def quadratic_blowup(soap: bool, _port: int) -> bytes:
    entity = b'<!DOCTYPE ROOT [<!ENTITY a "' + b"A" * 100_000 + b'">]>'
    return _doc(entity, b"<x>" + b"&a;" * 50_000 + b"</x>", soap)


def xxe_file(soap: bool, _port: int) -> bytes:
    return _doc(b'<!DOCTYPE ROOT [<!ENTITY f SYSTEM "file:///etc/passwd">]>', b"<x>&f;</x>", soap)


def xxe_network(soap: bool, port: int) -> bytes:
    url = b"http://127.0.0.1:%d/xxe" % port
    dtd = b'<!DOCTYPE ROOT [<!ENTITY n SYSTEM "' + url + b'">]>'
    return _doc(dtd, b"<x>&n;</x>", soap)


def xxe_external_dtd(soap: bool, port: int) -> bytes:
    return _doc(b'<!DOCTYPE ROOT SYSTEM "http://127.0.0.1:%d/evil.dtd">' % port, b"", soap)


def doctype_past_the_first_64k(soap: bool, _port: int) -> bytes:
    doc = _doc(b'<!DOCTYPE ROOT [<!ENTITY e "x">]>', b"<x>&e;</x>", soap)
    declaration, rest = doc.split(b"?>", 1)
    return declaration + b"?><!-- " + b"p" * 70_000 + b" -->" + rest


def deep_nesting(soap: bool, _port: int) -> bytes:
    return _doc(b"", b"<x>" * 10_000 + b"</x>" * 10_000, soap)


def invalid_utf8(soap: bool, _port: int) -> bytes:
    return _doc(b"", b"<x>caf\xc3 \xff\xfe \xed\xa0\x80</x>", soap)


#: name → (document maker, code of the answer)
CORPUS: dict[str, tuple[Callable[[bool, int], bytes], str]] = {
    "billion-laughs": (billion_laughs, "1.2"),
    "quadratic-blowup": (quadratic_blowup, "1.2"),
    "xxe-file": (xxe_file, "1.2"),
    "xxe-network": (xxe_network, "1.2"),
    "xxe-external-dtd": (xxe_external_dtd, "1.2"),
    "doctype-past-64k": (doctype_past_the_first_64k, "1.2"),
    "deep-nesting-10000": (deep_nesting, "1.4"),
    "invalid-utf8": (invalid_utf8, "1.1"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory: Path = tmp_path_factory.mktemp("hostile")
    settings = Settings(database_url=sqlite_url(directory), max_message_bytes=CAP)
    with running_hub(settings) as (_hub, base):
        yield base


@pytest.fixture(scope="module")
def peak_rss() -> Iterator[None]:
    """Peak resident memory of this process (the server runs in it) over the module."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    yield
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert growth < MEMORY_BOUND, f"peak RSS grew by {growth / 2**20:.0f} MiB"


def _post(base: str, transport: str, body: bytes | Iterator[bytes]) -> httpx.Response:
    url = f"{base}/cim" if transport == "http" else f"{base}/soap/ReceiveMeterReadings"
    return httpx.post(url, content=body, headers=as_tenant(TENANT_A), timeout=60)


def _code(response: httpx.Response) -> str | None:
    """The 61968-100 code of a reply, or the code a SOAP Fault's faultstring starts with."""
    found = re.search(r"<(?:\w+:)?code>([\d.]+)<", response.text) or re.search(
        r"<faultstring>([\d.]+) ", response.text
    )
    return found.group(1) if found else None


def _still_up(base: str, transport: str) -> None:
    body = VALID if transport == "http" else envelope_bytes(VALID)
    response = _post(base, transport, body)
    assert response.status_code == 200, response.text
    assert "<Result>OK</Result>" in response.text or ">OK<" in response.text


@pytest.mark.usefixtures("peak_rss")
@pytest.mark.parametrize("transport", ["http", "soap"])
@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_document_gets_its_coded_error(server: str, name: str, transport: str) -> None:
    make, code = CORPUS[name]
    listener = Listener()
    try:
        response = _post(server, transport, make(transport == "soap", listener.port))
        assert not listener.contacted()  # nothing was fetched
    finally:
        listener.socket.close()
    assert _code(response) == code, response.text[:500]
    assert response.status_code == (400 if transport == "http" else 500)
    assert "root:" not in response.text  # no file content came back
    _still_up(server, transport)


def _gigabyte() -> Iterator[bytes]:
    """1 GB of a message that never ends, made chunk by chunk (never held in memory)."""
    yield b'<?xml version="1.0" encoding="UTF-8"?>' + ROOT_OPEN
    filler = b"<x>" + b"9" * (CHUNK - 8) + b"</x>"
    for _ in range(GIGABYTE // CHUNK):
        yield filler


def _stream(base: str, path: str, declared: bool) -> tuple[int, bytes, int]:
    """POST a 1 GB body over a raw socket, chunked (or with its Content-Length), and stop
    sending as soon as the server answers. Returns (status, body, bytes sent)."""
    host, port = base.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        length = (
            b"Content-Length: %d\r\n" % GIGABYTE if declared else b"Transfer-Encoding: chunked\r\n"
        )
        sock.sendall(
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/xml\r\n"
            % (path.encode(), host.encode())
            + b"X-Cimhub-Tenant: "
            + TENANT_A.encode()
            + b"\r\n"
            + length
            + b"\r\n"
        )
        answer = _Reader(sock)
        for chunk in _gigabyte():
            if answer.arrived.is_set():
                break
            frame = chunk if declared else b"%x\r\n%s\r\n" % (len(chunk), chunk)
            try:
                sock.sendall(frame)
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
        answer.done.wait(60)
    status = int(answer.data.split(b" ", 2)[1]) if answer.data else 0
    return status, answer.data.partition(b"\r\n\r\n")[2], sent


class _Reader:
    """Reads the server's answer while the body is still being sent."""

    def __init__(self, sock: socket.socket) -> None:
        self.data = b""
        self.arrived, self.done = threading.Event(), threading.Event()
        threading.Thread(target=self._read, args=(sock,), daemon=True).start()

    def _read(self, sock: socket.socket) -> None:
        try:
            while chunk := sock.recv(65536):
                self.data += chunk
                self.arrived.set()
                if b"</" in self.data and self.data.rstrip().endswith(b">"):
                    break
        except OSError:
            pass
        finally:
            self.arrived.set()
            self.done.set()


@pytest.mark.usefixtures("peak_rss")
@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
@pytest.mark.parametrize("transport", ["http", "soap"])
def test_a_1gb_body_is_cut_off_at_the_cap(server: str, transport: str, declared: bool) -> None:
    path = "/cim" if transport == "http" else "/soap/ReceiveMeterReadings"
    status, body, sent = _stream(server, path, declared)
    assert status == (413 if transport == "http" else 500), body[:300]  # SOAP: a Fault is 500
    assert re.search(rb"1\.3", body), body[:300]
    assert sent < 4 * CAP + 64 * CHUNK  # it stopped reading near the cap, not at 1 GB
    _still_up(server, transport)
