"""A stub upstream on a free loopback port (standard library only): server-sent events under /sse/, a WebSocket echo
under /ws/, and for anything else a small answer; it records the head of every request it receives, so probes can
see what the edge forwarded."""

import base64
import hashlib
import socket
import socketserver
import struct
import threading
import time

from .harness import CLEANUP

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_head(reader):
    lines = []
    while True:
        line = reader.readline(65537)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            break
        lines.append(line.decode("latin-1").rstrip("\r\n"))
    if not lines:
        return None
    method, target, _version = (lines[0].split(" ", 2) + ["", ""])[:3]
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return method, target, headers


def field(headers, name):
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def ws_send(sock, payload, opcode=1):
    header = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        header += bytes([n])
    elif n < 65536:
        header += bytes([126]) + struct.pack("!H", n)
    else:
        header += bytes([127]) + struct.pack("!Q", n)
    sock.sendall(header + payload)


def ws_recv(reader, masked_expected=True):
    """One frame (opcode, payload) or None at end of stream."""
    head = reader.read(2)
    if len(head) < 2:
        return None
    opcode = head[0] & 0x0F
    masked = head[1] & 0x80
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", reader.read(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", reader.read(8))[0]
    mask = reader.read(4) if masked else b""
    payload = reader.read(n)
    if masked:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload


class StubUpstream:
    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        stub = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                try:
                    while stub.serve_one(self):
                        pass
                except (OSError, ValueError):
                    pass

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 512

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        CLEANUP.add(self.stop)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def serve_one(self, handler):
        head = read_head(handler.rfile)
        if head is None:
            return False
        method, target, headers = head
        body = b""
        length = field(headers, "content-length")
        if length is not None:
            body = handler.rfile.read(int(length))
        elif (field(headers, "transfer-encoding") or "").lower() == "chunked":
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += handler.rfile.read(size)
                handler.rfile.readline()
        with self.lock:
            self.requests.append({"method": method, "target": target, "headers": headers, "body": body})
        out = handler.connection
        if target.startswith("/sse/"):
            out.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                        b"Connection: close\r\n\r\n")
            n = 0
            while True:
                out.sendall(f"id: {n}\ndata: tick {n}\n\n".encode())
                n += 1
                time.sleep(0.1)
        if target.startswith("/ws/") and (field(headers, "upgrade") or "").lower() == "websocket":
            key = field(headers, "sec-websocket-key") or ""
            accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            out.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            while True:
                frame = ws_recv(handler.rfile)
                if frame is None or frame[0] == 8:
                    return False
                ws_send(out, frame[1], frame[0] if frame[0] in (1, 2) else 1)
        if target.startswith("/stub/101"):
            # Answers any Upgrade with 101, as a careless back end would (issue 20, item 12).
            out.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
            time.sleep(0.5)
            return False
        text = f"stub {method} {target} {len(body)}\n".encode()
        out.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                    + str(len(text)).encode() + b"\r\n\r\n" + text)
        return True

    def seen(self, since=0):
        with self.lock:
            return list(self.requests[since:])

    def count(self):
        with self.lock:
            return len(self.requests)


class SSEClient:
    """A raw-socket event-stream reader: counts events; `dropped` once the stream ends or errors."""

    def __init__(self, port, path):
        self.events = 0
        self.ended = None
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        # HTTP/1.0, so the edge sends the stream close-delimited and no chunk framing splits an event.
        self.sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buffer = b""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    self.ended = "closed by the edge"
                    return
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                self.events += sum(1 for line in lines if line.startswith(b"data: tick"))
        except OSError as error:
            if self.ended is None:
                self.ended = repr(error)

    def close(self):
        if self.ended is None:
            self.ended = "closed by us"
        try:
            self.sock.close()
        except OSError:
            pass


class WSClient:
    """A raw-socket WebSocket client through the edge: echo round trips."""

    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(b"chaos-chaos-1234").decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.reader = self.sock.makefile("rb")
        status = self.reader.readline()
        if b" 101 " not in status:
            raise RuntimeError(f"WebSocket handshake through the edge: {status!r}")
        while self.reader.readline() not in (b"\r\n", b""):
            pass
        self.round_trips = 0

    def echo(self, text):
        payload = text.encode()
        mask = b"\x01\x02\x03\x04"
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
        frame = ws_recv(self.reader)
        if frame is None or frame[1] != payload:
            raise RuntimeError(f"WebSocket echo: sent {text!r}, got {frame!r}")
        self.round_trips += 1

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
