#!/usr/bin/env python3
"""Watch a server across a reboot, from the client side of its cable (run in the client netns).

Every EVERY seconds, each stranger and each admin address sends a TCP SYN, a UDP datagram or an
ICMP echo request to each target. A packet socket on the client's bridge records every packet the server sends back to those
addresses: any answer at all (SYN-ACK, RST, ICMP error, UDP reply) counts, so the verdict does not
depend on what a probe's own socket happened to notice. The admins are the control: they must hear
each kind of answer, which shows the watch would have seen it had a stranger got one.
Neighbour discovery (ICMPv6 133-137) is not an answer: a host on the same link must do it.

Usage: boot-watch.py JSON. Prints "ready", runs until SIGTERM, then prints one JSON line:
{"sent": N, "dropped": FRAMES_THE_KERNEL_DROPPED, "strangerAnswers": [{"t", "src", "dst", "what"}...], "strangerAnswerCount": N,
 "admin": {ADDR: {"times": [t...], "kinds": [what...]}}}
where t is time.time() of each answer (the caller's clock: Date.now() / 1000).
"""
import errno
import json
import signal
import socket
import struct
import sys
import time

cfg = json.loads(sys.argv[1])
every = float(cfg.get('every', 0.025))
servers = {4: cfg['server4'], 6: cfg['server6']}
fam = lambda a: 6 if ':' in a else 4
norm = lambda a: socket.inet_ntop(socket.AF_INET6 if fam(a) == 6 else socket.AF_INET,
                                  socket.inet_pton(socket.AF_INET6 if fam(a) == 6 else socket.AF_INET, a))
strangers = {norm(a) for a in cfg['strangers']}
admins = {norm(a) for a in cfg.get('admins', [])}
server_set = {norm(servers[4]), norm(servers[6])}

sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
# room for seconds of traffic while the machine is busy booting the guest; a frame the kernel
# still had to drop is counted (PACKET_STATISTICS) and fails the run instead of passing unseen
sniff.setsockopt(socket.SOL_SOCKET, getattr(socket, 'SO_RCVBUFFORCE', 33), 32 << 20)  # 33 on Linux; not every Python names it
sniff.bind((cfg.get('iface', 'br0'), 0))
sniff.setblocking(False)
SOL_PACKET, PACKET_STATISTICS = 263, 6
dropped = 0


def drops():
    global dropped
    # tp_packets, tp_drops; reading resets them
    dropped += struct.unpack('II', sniff.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))[1]


drops()  # from before the first read: nothing of ours yet

# ICMP echo requests (host discovery): raw sockets; the kernel fills in the ICMPv6 checksum
def icmp_checksum(b):
    b += b'\0' * (len(b) % 2)
    t = sum(struct.unpack(f'!{len(b) // 2}H', b))
    t = (t >> 16) + (t & 0xFFFF)
    return ~(t + (t >> 16)) & 0xFFFF


echo = {}

udp = {}
for a in strangers | admins:
    s = socket.socket(socket.AF_INET6 if fam(a) == 6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a, 0))
    s.setblocking(False)
    udp[a] = s
    e = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) if fam(a) == 6 else socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    e.bind((a, 0))
    e.setblocking(False)
    echo[a] = e

pending = []  # (close_at, socket): SYNs in flight, closed after half a second (no retransmission)
sent = 0
answers = []
admin_seen = {a: {'times': [], 'kinds': set()} for a in admins}
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)


def syn(src, port):
    global sent
    f = fam(src)
    s = socket.socket(socket.AF_INET6 if f == 6 else socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.bind((src, 0))
        if s.connect_ex((servers[f], port)) in (0, errno.EINPROGRESS):
            sent += 1
    except OSError:
        pass  # no carrier, no route: nothing went out, nothing to answer
    pending.append((time.time() + 0.5, s))


def read_packets():
    while True:
        try:
            frame = sniff.recv(65535)
        except BlockingIOError:
            return
        now = time.time()
        etype = struct.unpack('!H', frame[12:14])[0]
        ip = frame[14:]
        if etype == 0x0800 and len(ip) >= 20:
            src, dst, proto = socket.inet_ntop(socket.AF_INET, ip[12:16]), socket.inet_ntop(socket.AF_INET, ip[16:20]), ip[9]
            l4 = ip[(ip[0] & 0x0F) * 4:]
        elif etype == 0x86DD and len(ip) >= 40:
            src, dst, proto = socket.inet_ntop(socket.AF_INET6, ip[8:24]), socket.inet_ntop(socket.AF_INET6, ip[24:40]), ip[6]
            l4 = ip[40:]
        else:
            continue
        if src not in server_set:
            continue
        if proto == 58 and l4 and 133 <= l4[0] <= 137:
            continue
        if dst not in strangers and dst not in admins:
            continue
        what = {6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmp6'}.get(proto, str(proto))
        if proto == 6 and len(l4) >= 14:
            what += f" {struct.unpack('!H', l4[0:2])[0]} flags=0x{l4[13]:02x}"
        elif proto in (1, 58) and l4:
            what += f' type={l4[0]}'
        if dst in strangers:
            answers.append({'t': now, 'src': src, 'dst': dst, 'what': what})
        else:
            admin_seen[dst]['times'].append(now)
            admin_seen[dst]['kinds'].add(what)


print('ready', flush=True)
next_tick = time.time()
tick = 0
while not stop:
    now = time.time()
    if now >= next_tick:
        next_tick += every
        if next_tick < now:
            next_tick = now + every  # fell behind (a loaded machine): no burst to catch up
        tick += 1
        for a in strangers | admins:
            for proto, port in cfg['targets']:
                if a in admins and (proto, port) == ('tcp', 22) and tick % 20:
                    continue  # an admin's SYN to sshd becomes a session sshd forks for: twice a second is plenty
                if proto == 'icmp':
                    try:
                        if fam(a) == 6:
                            echo[a].sendto(struct.pack('!BBHHH', 128, 0, 0, 0x7433, tick & 0xFFFF), (servers[6], 0))
                        else:
                            hdr = struct.pack('!BBHHH', 8, 0, 0, 0x7433, tick & 0xFFFF)
                            echo[a].sendto(struct.pack('!BBHHH', 8, 0, icmp_checksum(hdr), 0x7433, tick & 0xFFFF), (servers[4], 0))
                        sent += 1
                    except OSError:
                        pass
                elif proto == 'tcp':
                    syn(a, port)
                else:
                    try:
                        udp[a].sendto(b'OPTIONS sip:probe SIP/2.0\r\n\r\n', (servers[fam(a)], port))
                        sent += 1
                    except OSError:
                        pass
        while pending and pending[0][0] <= now:
            pending.pop(0)[1].close()
    read_packets()
    drops()
    time.sleep(0.002)
read_packets()
drops()
for _, s in pending:
    s.close()
print(json.dumps({'sent': sent, 'dropped': dropped, 'strangerAnswers': answers[:50], 'strangerAnswerCount': len(answers), 'admin': {a: {'times': v['times'], 'kinds': sorted(v['kinds'])} for a, v in admin_seen.items()}}), flush=True)
