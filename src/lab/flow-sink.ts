// Lab server for flows that must stop: keeps TCP sessions open and echoes UDP, and prints one
// JSON line per packet it receives ({"t": ms, "src": address, "proto", "port"}).
// Usage: node flow-sink.js TCP_PORTS UDP_PORTS   (comma lists)
import net from 'node:net';
import dgram from 'node:dgram';

const ports = (s = '') => s.split(',').filter(Boolean).map(Number);
const [tcp, udp] = [ports(process.argv[2]), ports(process.argv[3])];
const plain = (a = '') => a.replace(/^::ffff:/, '');
const seen = (src: string | undefined, proto: string, port: number) => process.stdout.write(`${JSON.stringify({ t: Date.now(), src: plain(src), proto, port })}\n`);

let pending = tcp.length + udp.length;
const ready = () => { if (--pending === 0) process.stdout.write('ready\n'); };
for (const port of tcp) {
  net.createServer((sock) => {
    sock.on('error', () => undefined);
    sock.on('data', () => seen(sock.remoteAddress, 'tcp', port));
  }).listen({ port, host: '::', ipv6Only: false }, ready);
}
for (const port of udp) {
  const sock = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  sock.on('message', (msg, r) => { seen(r.address, 'udp', port); sock.send(msg, r.port, r.address); });
  sock.bind(port, '::', ready);
}
