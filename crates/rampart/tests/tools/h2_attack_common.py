"""Shared parts of the HTTP/2 attack scripts: connecting with prior
knowledge (h2c), reading raw frames without a state machine that would
object to what the attack sends, and a well-behaved request on a separate
connection to show the server still serves others.

Uses the PyPI `h2` library (Debian: python3-h2) and its companions
`hyperframe` and `hpack`.
"""

import json
import select
import socket
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events

# RFC 9113 section 6 frame types and section 7 error codes used here.
HEADERS = 0x1
RST_STREAM = 0x3
GOAWAY = 0x7
CONTINUATION = 0x9
END_STREAM = 0x1
END_HEADERS = 0x4
ERROR_NAMES = {
    0x0: "NO_ERROR",
    0x1: "PROTOCOL_ERROR",
    0x2: "INTERNAL_ERROR",
    0x3: "FLOW_CONTROL_ERROR",
    0x5: "STREAM_CLOSED",
    0x6: "FRAME_SIZE_ERROR",
    0x7: "REFUSED_STREAM",
    0x8: "CANCEL",
    0x9: "COMPRESSION_ERROR",
    0xB: "ENHANCE_YOUR_CALM",
    0xD: "HTTP_1_1_REQUIRED",
}


def connect(host, port, timeout=5.0):
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def frame(kind, flags, stream_id, payload):
    """One raw HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id."""
    header = struct.pack(">I", len(payload))[1:] + bytes([kind, flags])
    return header + struct.pack(">I", stream_id & 0x7FFFFFFF) + payload


class FrameReader:
    """Collects what the server sends and splits it into frames; remembers
    a GOAWAY and whether the server closed (EOF) or reset the connection."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""
        self.goaway = None  # (last_stream_id, error name)
        self.closed = None  # "eof" or "reset: ..."
        self.frames = {}

    def poll(self, wait=0.0):
        """Reads what is available within `wait` seconds."""
        if self.closed:
            return
        deadline = time.monotonic() + wait
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if not readable:
                return
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError) as error:
                self.closed = "reset: %s" % error
                return
            except socket.timeout:
                return
            if not data:
                self.closed = "eof"
                return
            self.buffer += data
            self._split()
            wait = 0.0
            deadline = time.monotonic()

    def _split(self):
        while len(self.buffer) >= 9:
            length = int.from_bytes(self.buffer[0:3], "big")
            if len(self.buffer) < 9 + length:
                return
            kind = self.buffer[3]
            payload = self.buffer[9 : 9 + length]
            self.buffer = self.buffer[9 + length :]
            self.frames[kind] = self.frames.get(kind, 0) + 1
            if kind == GOAWAY and len(payload) >= 8:
                last, code = struct.unpack(">II", payload[:8])
                self.goaway = (last & 0x7FFFFFFF, ERROR_NAMES.get(code, hex(code)))

    def wait_closed(self, seconds):
        """After a GOAWAY: waits for the server to close the socket."""
        deadline = time.monotonic() + seconds
        while not self.closed and time.monotonic() < deadline:
            self.poll(min(0.1, max(0.0, deadline - time.monotonic())))


def get_status(host, port, authority, path="/", sock=None, timeout=5.0):
    """One GET on its own h2c connection (or on `sock`, already connected and
    not yet spoken on). Returns the :status as int, or an error string."""
    try:
        sock = sock or connect(host, port, timeout)
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        conn.initiate_connection()
        conn.send_headers(
            1,
            [
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", authority),
                (":path", path),
            ],
            end_stream=True,
        )
        sock.sendall(conn.data_to_send())
        status = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                return status if status else "closed before a response"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = int(dict(event.headers)[":status"])
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == 1:
                    return status
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return "GOAWAY %s" % event.error_code
            pending = conn.data_to_send()
            if pending:
                sock.sendall(pending)
        return "no response within %ss" % timeout
    except Exception as error:  # reported, not raised: the caller decides
        return "error: %r" % error
    finally:
        if sock:
            sock.close()


def report(result, ok):
    """Prints the result as one JSON line and exits 0 when `ok`."""
    result["ok"] = bool(ok)
    print(json.dumps(result, sort_keys=True))
    sys.exit(0 if ok else 1)
