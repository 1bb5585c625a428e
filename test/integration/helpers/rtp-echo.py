#!/usr/bin/env python3
"""A phone's media in the PBX lab: RTP (PCMU, 20 ms frames, 50 a second) to Asterisk's echo test,
counting what comes back. Asterisk's media port is read from PORTFILE, which the sipp call
scenario writes from the 200 OK's SDP. Runs SECONDS, or until SIGTERM, then waits half a second
for the last echoes and prints one JSON line:
{"sent": N, "received": N (distinct frames echoed), "datagrams": N, "recvTimes": [t...], "maxGap": seconds}
Each frame carries its number in its first 4 payload bytes (the echo test sends the payload back
as it came), so a duplicate cannot hide a loss.
Usage: rtp-echo.py '{"local": IP, "port": N, "server": IP, "portfile": PATH, "seconds": S}'
"""
import json
import os
import select
import signal
import socket
import struct
import sys
import time

cfg = json.loads(sys.argv[1])
fam = socket.AF_INET6 if ':' in cfg['server'] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((cfg['local'], cfg['port']))
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
print('ready', flush=True)
deadline = time.time() + 20
while not os.path.exists(cfg['portfile']) or not open(cfg['portfile']).read().strip():
    if time.time() > deadline or stop:
        print(json.dumps({'error': 'no media port from the call (no 200 OK?)', 'sent': 0, 'received': 0, 'recvTimes': [], 'maxGap': 0}), flush=True)
        sys.exit(1)
    time.sleep(0.02)
dest = (cfg['server'], int(open(cfg['portfile']).read().strip()))
sent = 0
recv_times = []
frames = set()


def got(data):
    recv_times.append(time.time())
    if len(data) >= 16:
        frames.add(struct.unpack('!I', data[12:16])[0])



seq = 0
silence = b'\xff' * 156  # with the 4-byte frame number: 20 ms of PCMU
end = time.time() + float(cfg['seconds'])
next_send = time.time()
while not stop and time.time() < end:
    now = time.time()
    if now >= next_send:
        s.sendto(struct.pack('!BBHII', 0x80, 0, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, 0x746d3300) + struct.pack('!I', seq) + silence, dest)
        seq += 1
        sent += 1
        next_send += 0.02
    r, _, _ = select.select([s], [], [], max(0.0, min(0.005, next_send - time.time())))
    if r:
        got(s.recv(2048))
linger = time.time() + 0.5
while time.time() < linger:
    r, _, _ = select.select([s], [], [], 0.05)
    if r:
        got(s.recv(2048))
gaps = [b - a for a, b in zip(recv_times, recv_times[1:])]
print(json.dumps({'sent': sent, 'received': len(frames), 'datagrams': len(recv_times), 'recvTimes': recv_times, 'maxGap': max(gaps) if gaps else 0}), flush=True)
