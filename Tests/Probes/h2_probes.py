"""Hostile HTTP/2 frame sequences against a running edge (h2c with prior knowledge, or TLS with ALPN h2).

Each probe opens its own connection and plays one known attack; afterwards an ordinary request on a new connection
must still be answered. Prints one line per probe and exits 1 if any failed:

    python Tests/Probes/h2_probes.py --port 8080 [--tls] [--path /a.txt]

Uses the PyPI packages h2, hyperframe and hpack (scripts/requirements-test.txt).
"""

import argparse
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def connect(args):
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=5)
    if args.tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])
        sock = context.wrap_socket(sock, server_hostname="app.test")
        assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
    return sock


def raw_connection(args):
    """A connection past the preface and SETTINGS exchange, for sending frames by hand."""
    sock = connect(args)
    sock.sendall(PREFACE + SettingsFrame(0).serialize())
    return sock


def request_headers(args, stream_id, end_stream=True, extra=()):
    encoder = hpack.Encoder()
    block = encoder.encode([(":method", "GET"), (":scheme", "https" if args.tls else "http"),
                            (":authority", "app.test"), (":path", args.path)] + list(extra))
    frame = HeadersFrame(stream_id, block)
    frame.flags.add("END_HEADERS")
    if end_stream:
        frame.flags.add("END_STREAM")
    return frame


def read_frames_until(sock, seconds, done):
    """Frames the server sent until `done(frames)` holds, it closes, or `seconds` pass (a loaded machine may take a
    while to answer), and whether it closed the connection."""
    data = b""
    frames = []
    closed = False
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline and not done(frames):
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            continue
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
        while len(data) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(data[:9]))
            if len(data) < 9 + length:
                break
            frame.parse_body(memoryview(data[9:9 + length]))
            frames.append(frame)
            data = data[9 + length:]
    return frames, closed


def read_frames(sock, seconds):
    """Frames the server sent within `seconds`, and whether it closed the connection."""
    return read_frames_until(sock, seconds, lambda frames: False)


def ordinary_request(args):
    """A well-behaved client: one GET with the h2 library; returns the status."""
    sock = connect(args)
    connection = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    connection.send_headers(1, [(":method", "GET"), (":scheme", "https" if args.tls else "http"),
                                (":authority", "app.test"), (":path", args.path)], end_stream=True)
    sock.sendall(connection.data_to_send())
    status = None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and status is None:
        data = sock.recv(65536)
        if not data:
            break
        for event in connection.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                status = dict(event.headers).get(b":status")
        sock.sendall(connection.data_to_send())
    sock.close()
    return status


def goaway_code(frames):
    codes = [frame.error_code for frame in frames if isinstance(frame, GoAwayFrame)]
    return codes[0] if codes else None


def probe_rapid_reset(args):
    """CVE-2023-44487: open streams and reset them at once, far more than the concurrency limit."""
    sock = raw_connection(args)
    payload = b""
    for index in range(2000):
        stream_id = 1 + 2 * index
        payload += request_headers(args, stream_id).serialize() + RstStreamFrame(stream_id, error_code=8).serialize()
    try:
        sock.sendall(payload)
    except OSError:
        pass
    frames, closed = read_frames(sock, 2)
    sock.close()
    code = goaway_code(frames)
    # ENHANCE_YOUR_CALM (11) or any GOAWAY/close: the connection must not serve 2000 reset streams.
    return closed or code is not None, f"GOAWAY {code}, closed {closed}"


def probe_continuation_flood(args):
    """CVE-2024-27316 family: HEADERS without END_HEADERS, then endless CONTINUATION frames."""
    sock = raw_connection(args)
    headers = request_headers(args, 1)
    headers.flags.discard("END_HEADERS")
    try:
        sock.sendall(headers.serialize())
        for _ in range(5000):
            frame = ContinuationFrame(1, b"\x00" * 100)
            sock.sendall(frame.serialize())
    except OSError:
        pass
    frames, closed = read_frames(sock, 2)
    sock.close()
    return closed or goaway_code(frames) is not None, f"GOAWAY {goaway_code(frames)}, closed {closed}"


def probe_oversized_header_list(args):
    """A header list far beyond SETTINGS_MAX_HEADER_LIST_SIZE: refused, never buffered."""
    sock = raw_connection(args)
    big = [(f"x-big-{i}", "v" * 1000) for i in range(64)]
    frame = request_headers(args, 1, extra=big)
    try:
        sock.sendall(frame.serialize())
    except OSError:
        pass
    frames, closed = read_frames(sock, 2)
    sock.close()
    refused = closed or goaway_code(frames) is not None or any(
        isinstance(frame, RstStreamFrame) and frame.stream_id == 1 for frame in frames)
    answered_431 = any(isinstance(frame, HeadersFrame) and frame.stream_id == 1 for frame in frames)
    return refused or answered_431, f"GOAWAY {goaway_code(frames)}, closed {closed}, answer {answered_431}"


def probe_window_overflow(args):
    """A WINDOW_UPDATE that pushes the connection window past 2^31-1: a FLOW_CONTROL_ERROR."""
    sock = raw_connection(args)
    try:
        sock.sendall(WindowUpdateFrame(0, window_increment=2**31 - 1).serialize()
                     + WindowUpdateFrame(0, window_increment=2**31 - 1).serialize())
    except OSError:
        pass
    frames, closed = read_frames(sock, 2)
    sock.close()
    return goaway_code(frames) == 3 or closed, f"GOAWAY {goaway_code(frames)}, closed {closed}"


def probe_zero_window(args):
    """A client that announces a zero window and never opens it: the edge waits without buffering without bound,
    and other clients are served meanwhile."""
    sock = connect(args)
    settings = SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0})
    payload = PREFACE + settings.serialize()
    for index in range(50):
        payload += request_headers(args, 1 + 2 * index).serialize()
    sock.sendall(payload)
    ok = ordinary_request(args) == b"200"
    sock.close()
    return ok, f"others served while blocked: {ok}"


def flood(args, frame, count=200000):
    """Sends `frame` `count` times without reading, then reads: the edge must have stopped it (GOAWAY or close)
    instead of queueing an acknowledgement for each."""
    sock = raw_connection(args)
    sent = 0
    sock.settimeout(3)
    try:
        for _ in range(count // 1000):
            sock.sendall(frame * 1000)
            sent += 1000
    except OSError:
        pass
    frames, closed = read_frames(sock, 3)
    sock.close()
    acks = sum(1 for f in frames if "ACK" in f.flags)
    code = goaway_code(frames)
    return closed or code is not None, f"{sent} sent, {acks} acknowledged, GOAWAY {code}, closed {closed}"


def probe_ping_flood(args):
    """PINGs sent without reading the acknowledgements."""
    return flood(args, PingFrame(0, opaque_data=b"12345678").serialize())


def probe_settings_flood(args):
    """SETTINGS frames sent without reading the acknowledgements."""
    return flood(args, SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 100}).serialize())


def probe_empty_data_flood(args):
    """Endless empty DATA frames on an open stream."""
    sock = raw_connection(args)
    try:
        sock.sendall(request_headers(args, 1, end_stream=False).serialize())
        for _ in range(5000):
            sock.sendall(DataFrame(1, b"").serialize())
    except OSError:
        pass
    frames, closed = read_frames(sock, 2)
    sock.close()
    return closed or goaway_code(frames) is not None, f"GOAWAY {goaway_code(frames)}, closed {closed}"


def probe_malformed_headers(args):
    """Header blocks HTTP/2 forbids: upper-case names, connection-specific fields, a value with a newline, a
    pseudo-field after a regular one, a missing :path. Each is a stream error (RST_STREAM PROTOCOL_ERROR), never
    an answer."""
    cases = [
        [("X-Upper", "1")],
        [("connection", "keep-alive")],
        [("transfer-encoding", "chunked")],
        [("te", "gzip")],
        [("x-split", "a\r\nx-injected: 1")],
        [("x-late", "1"), (":path", "/x")],
    ]
    refused = 0
    for index, extra in enumerate(cases):
        sock = raw_connection(args)
        encoder = hpack.Encoder()
        block = encoder.encode([(":method", "GET"), (":scheme", "https" if args.tls else "http"),
                                (":authority", "app.test"), (":path", args.path)] + extra)
        frame = HeadersFrame(1, block)
        frame.flags.add("END_HEADERS")
        frame.flags.add("END_STREAM")
        sock.sendall(frame.serialize())
        frames, closed = read_frames_until(sock, 10, lambda frames: any(
            (isinstance(f, (RstStreamFrame, HeadersFrame)) and f.stream_id == 1) or isinstance(f, GoAwayFrame)
            for f in frames))
        sock.close()
        reset = any(isinstance(f, RstStreamFrame) and f.stream_id == 1 and f.error_code == 1 for f in frames)
        answered = any(isinstance(f, HeadersFrame) and f.stream_id == 1 for f in frames)
        if (reset or goaway_code(frames) == 1) and not answered:
            refused += 1
    # A request without :path.
    sock = raw_connection(args)
    encoder = hpack.Encoder()
    frame = HeadersFrame(1, encoder.encode([(":method", "GET"), (":scheme", "http"), (":authority", "app.test")]))
    frame.flags.add("END_HEADERS")
    frame.flags.add("END_STREAM")
    sock.sendall(frame.serialize())
    frames, closed = read_frames(sock, 1)
    sock.close()
    if not any(isinstance(f, HeadersFrame) and f.stream_id == 1 for f in frames):
        refused += 1
    return refused == len(cases) + 1, f"{refused} of {len(cases) + 1} refused"


PROBES = [
    ("malformed header blocks", probe_malformed_headers),
    ("rapid reset", probe_rapid_reset),
    ("CONTINUATION flood", probe_continuation_flood),
    ("oversized header list", probe_oversized_header_list),
    ("window overflow", probe_window_overflow),
    ("zero window", probe_zero_window),
    ("PING flood", probe_ping_flood),
    ("SETTINGS flood", probe_settings_flood),
    ("empty DATA flood", probe_empty_data_flood),
]


def graceful(args):
    """Sends one request to a slow path, prints "sent", then expects, as the edge shuts down: GOAWAY (NO_ERROR)
    naming that stream, the whole answer to it, and the connection's close. Read frame by frame: the h2 library
    stops accepting frames once it sees a GOAWAY, which HTTP/2 allows to be followed by the streams it names."""
    sock = raw_connection(args)
    encoder = hpack.Encoder()
    block = encoder.encode([(":method", "GET"), (":scheme", "https" if args.tls else "http"),
                            (":authority", "app.test"), (":path", args.graceful)])
    frame = HeadersFrame(1, block)
    frame.flags.add("END_HEADERS")
    frame.flags.add("END_STREAM")
    sock.sendall(frame.serialize())
    print("sent", flush=True)
    frames, closed = read_frames(sock, 10)
    sock.close()
    decoder = hpack.Decoder()
    goaway = next(((f.error_code, f.last_stream_id) for f in frames if isinstance(f, GoAwayFrame)), None)
    status = None
    ended = False
    for f in frames:
        if isinstance(f, SettingsFrame) and "ACK" not in f.flags:
            continue
        if isinstance(f, HeadersFrame) and f.stream_id == 1:
            status = dict(decoder.decode(f.data)).get(":status")
            ended = ended or "END_STREAM" in f.flags
        if isinstance(f, DataFrame) and f.stream_id == 1 and "END_STREAM" in f.flags:
            ended = True
    print(f"goaway {goaway} status {status} ended {ended} closed {closed}", flush=True)
    return 0 if goaway == (0, 1) and status == "200" and ended and closed else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--path", default="/")
    parser.add_argument("--graceful", metavar="SLOW_PATH",
                        help="instead of the probes: check a graceful shutdown while a request to SLOW_PATH runs")
    args = parser.parse_args()
    if args.graceful:
        return graceful(args)
    failed = 0
    if ordinary_request(args) != b"200":
        print("baseline request failed: the edge does not answer", flush=True)
        return 1
    for name, probe in PROBES:
        try:
            refused, detail = probe(args)
        except Exception as error:  # a probe that crashes is reported, not fatal
            refused, detail = False, f"probe error: {error!r}"
        still_up = ordinary_request(args) == b"200"
        ok = refused and still_up
        failed += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}; edge still serves others: {still_up}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
