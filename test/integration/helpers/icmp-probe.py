# Lab prober for the stealth test: sends one packet the kernel answers with an ICMP error
# before INPUT sees it, and prints what came back. Usage: icmp-probe.py MODE SRC DST [WAIT_S]
# (from the red-team pass on issue 12; needs root in the sender's namespace)
import socket, struct, sys, time, select
mode, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
wait = float(sys.argv[4]) if len(sys.argv) > 4 else 3
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b)//2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
recv4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
recv6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
if mode == 'v4opt':   # IPv4 with a malformed timestamp option (length 2)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    udp = struct.pack('!HHHH', 40000, 10001, 8 + 4, 0) + b'tm3x'
    opts = bytes([0x44, 0x02, 0x00, 0x00])
    hdr = struct.pack('!BBHHHBBH4s4s', 0x46, 0, 24 + len(udp), 0x1234, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
    s.sendto(hdr + opts + udp, (dst, 0))
elif mode == 'v4frag':  # first fragment only (MF set), never completed
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    udp = struct.pack('!HHHH', 40000, 10001, 8 + 64, 0) + b'A' * 16
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0x4321, 0x2000, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
    s.sendto(hdr + udp, (dst, 0))
elif mode == 'v6hbh':  # UDP with a hop-by-hop option of unknown type 0x80 (discard + ICMP)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((src, 40001))
    hbh = bytes([0, 0, 0x80, 4, 0, 0, 0, 0])  # nexthdr filled by kernel, len 0 (8 bytes)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, hbh)
    s.sendto(b'tm3x', (dst, 10001))
elif mode == 'v6frag':  # first IPv6 fragment only, via raw socket with fragment header
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 44)
    s.bind((src, 0))
    udp = struct.pack('!HHHH', 40002, 10001, 8 + 64, 0) + b'B' * 16
    frag = struct.pack('!BBHI', 17, 0, 0x0001, 0xabcdef)
    s.sendto(frag + udp, (dst, 0))
elif mode == 'plainudp':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((src, 40003)); s.sendto(b'x', (dst, 10001))
elif mode == 'plainudp6':
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind((src, 40004)); s.sendto(b'x', (dst, 10001))
end = time.time() + wait
got = []
while time.time() < end:
    r, _, _ = select.select([recv4, recv6], [], [], max(0, end - time.time()))
    for so in r:
        data, addr = so.recvfrom(2048)
        if so is recv4:
            ihl = (data[0] & 15) * 4; t, c = data[ihl], data[ihl + 1]
            if t != 8: got.append(f'icmp type={t} code={c} from {addr[0]}')
        else:
            t, c = data[0], data[1]
            if t not in (128, 129, 133, 134, 135, 136, 143): got.append(f'icmpv6 type={t} code={c} from {addr[0]}')
print(mode, '->', got or 'nothing')
