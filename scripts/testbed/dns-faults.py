#!/usr/bin/env python3
"""A misbehaving DNS server on 127.0.0.1:PORT (UDP, and TCP that accepts and never answers),
for the dns module's fault tests:
  silent   reads queries and never answers
  garbage  answers every query with its id and 3 bytes more: no DNS message
  cut      answers with the query's id and header claiming one answer record, and no record
"""
import socket
import sys
import threading
import time

port, mode = int(sys.argv[1]), sys.argv[2]

# UDP is bound before TCP listens: the tests start querying once the TCP port accepts.
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", port))

tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", port))
tcp.listen(16)
held = []


def accept_and_hold():
    while True:
        connection, _ = tcp.accept()
        held.append(connection)  # never answered, never closed


threading.Thread(target=accept_and_hold, daemon=True).start()

while True:
    query, source = udp.recvfrom(4096)
    if mode == "garbage":
        udp.sendto(query[:2] + b"\x81\x80\xff", source)
    elif mode == "cut" and len(query) >= 12:
        # QR and RD set, the query's question, ANCOUNT 1 — but the answer record is missing.
        end = 12
        while end < len(query) and query[end]:
            end += query[end] + 1
        end += 5
        udp.sendto(query[:2] + b"\x81\x00\x00\x01\x00\x01\x00\x00\x00\x00" + query[12:end], source)
    else:
        time.sleep(0)
