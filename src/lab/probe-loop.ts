// Lab stranger: probes the server over and over until SIGTERM, then prints how many got through.
// Usage: node probe-loop.js HOST TCP_PORT UDP_PORT [WAIT_MS]
import net from 'node:net';
import dgram from 'node:dgram';

const [host, tcpPort, udpPort] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const waitMs = Number(process.argv[5] ?? 150);
let attempts = 0;
let through = 0;
let stop = false;

const tcp = () => new Promise<boolean>((resolve) => {
  const s = net.connect({ host, port: tcpPort });
  const done = (ok: boolean) => { clearTimeout(t); s.destroy(); resolve(ok); };
  const t = setTimeout(() => done(false), waitMs);
  s.once('connect', () => done(true));
  s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED'));
});
const udp = () => new Promise<boolean>((resolve) => {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const done = (ok: boolean) => { clearTimeout(t); s.close(); resolve(ok); };
  const t = setTimeout(() => done(false), waitMs);
  s.once('message', () => done(true));
  s.once('error', () => done(false));
  s.send('probe', udpPort, host);
});

process.on('SIGTERM', () => { stop = true; });
process.stdout.write('ready\n');
while (!stop) {
  const results = await Promise.all([tcp(), udp()]);
  attempts += results.length;
  through += results.filter(Boolean).length;
}
process.stdout.write(`${JSON.stringify({ attempts, through })}\n`);
