#!/usr/bin/env python3
"""An OTLP/HTTP receiver over TLS that requires a client certificate, for the exporter's tests
(OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY). Prints its port, then keeps
each request body as OUT/<n>-<signal>.bin and answers an empty protobuf 200.

    tls-receiver.py CERT KEY CLIENT_CA OUT
"""
import http.server
import os
import ssl
import sys

cert, key, client_ca, out = sys.argv[1:5]
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        count += 1
        signal = self.path.rstrip("/").rsplit("/", 1)[-1]
        with open(os.path.join(out, f"{count}-{signal}.bin"), "wb") as file:
            file.write(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
context.load_verify_locations(client_ca)
context.verify_mode = ssl.CERT_REQUIRED
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
