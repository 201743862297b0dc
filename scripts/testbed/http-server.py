#!/usr/bin/env python3
"""A small real HTTP(S) server for the http module's tests and benchmark.

Listens on 127.0.0.1 (--port, or a free port), prints the port, then serves until killed:
  /ok                 200 with a short body and an X-Test header
  /delay?ms=N         waits N ms before the first byte of the answer
  /redirect?to=URL    302 to URL
  /big?bytes=N        200 with N bytes of body
  /hang               reads the request and never answers
  /status?code=N      answers with status N
With --cert and --key it speaks TLS.
"""
import argparse
import http.server
import ssl
import sys
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/ok":
            self.answer(200, b"hello from the test server\n", [("X-Test", "yes"), ("Content-Type", "text/plain")])
        elif url.path == "/delay":
            time.sleep(int(query.get("ms", "0")) / 1000)
            self.answer(200, b"late\n")
        elif url.path == "/redirect":
            self.answer(302, b"", [("Location", query.get("to", "/ok"))])
        elif url.path == "/big":
            self.answer(200, b"x" * int(query.get("bytes", "1000")))
        elif url.path == "/hang":
            time.sleep(120)
        elif url.path == "/status":
            self.answer(int(query.get("code", "200")), b"status\n")
        else:
            self.answer(404, b"not found\n")

    do_HEAD = do_GET

    def do_OPTIONS(self):
        self.answer(204, b"", [("Allow", "GET, HEAD, OPTIONS")])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", arguments.port), Handler)
    server.daemon_threads = True
    if arguments.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(arguments.cert, arguments.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
