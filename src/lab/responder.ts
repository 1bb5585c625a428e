// Lab server: listens on the given TCP ports and echoes UDP on the given ports, v4 and v6.
// Usage: node responder.js TCP_PORTS UDP_PORTS   (comma lists)
import net from 'node:net';
import dgram from 'node:dgram';

const ports = (s = '') => s.split(',').filter(Boolean).map(Number);
const [tcp, udp] = [ports(process.argv[2]), ports(process.argv[3])];

let pending = tcp.length + udp.length;
const ready = () => { if (--pending === 0) process.stdout.write('ready\n'); };

for (const port of tcp) {
  const server = net.createServer((sock) => { sock.on('error', () => undefined); sock.end('tm3-lab\n'); });
  server.listen({ port, host: '::', ipv6Only: false }, ready);
}
for (const port of udp) {
  const sock = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  sock.on('message', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
  sock.bind(port, '::', ready);
}
if (pending === 0) process.stdout.write('ready\n');
