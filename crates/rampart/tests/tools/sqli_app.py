"""A deliberately SQL-injectable origin for the WAF's attack-tool test.

GET /item?id=N looks the item up with the id pasted into the SQL text (the
bug), in an in-memory SQLite database: a real injection that an attack
tool can find and exploit. Prints its port on stdout once it listens.
Usage: python3 sqli_app.py PORT
"""
import html
import sqlite3
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.executescript(
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);"
    "CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT, password TEXT);"
    "INSERT INTO items VALUES (1, 'blue shirt'), (2, 'red shirt'), (3, 'green hat');"
    "INSERT INTO users VALUES (1, 'admin', 'correct horse battery staple');"
)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/item":
            return self.reply(404, "not found")
        item = parse_qs(url.query).get("id", ["1"])[0]
        try:
            rows = DB.execute("SELECT name FROM items WHERE id = " + item).fetchall()
        except sqlite3.Error as e:
            return self.reply(500, "database error: " + html.escape(str(e)))
        if not rows:
            return self.reply(200, "<html><body><p>No such item.</p></body></html>")
        names = "".join("<li>%s</li>" % html.escape(str(r[0])) for r in rows)
        return self.reply(200, "<html><body><h1>Items</h1><ul>%s</ul></body></html>" % names)

    def reply(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
