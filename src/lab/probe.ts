// Lab client: tries every probe at once and prints one JSON line of outcomes.
// Usage: node probe.js TIMEOUT_MS '[{"proto":"tcp","host":"192.0.2.1","port":22}, ...]'
import net from 'node:net';
import dgram from 'node:dgram';

export type Outcome = 'open' | 'refused' | 'timeout' | 'error';
export interface ProbeSpec { proto: 'tcp' | 'udp'; host: string; port: number; /** the client's source address, when it has several */ local?: string }

function tcp(p: ProbeSpec, timeout: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: p.host, port: p.port, ...(p.local ? { localAddress: p.local } : {}) });
    const done = (o: Outcome) => { clearTimeout(t); sock.destroy(); resolve(o); };
    const t = setTimeout(() => done('timeout'), timeout);
    sock.once('connect', () => done('open'));
    sock.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'error'));
  });
}

function udp(p: ProbeSpec, timeout: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(p.host.includes(':') ? 'udp6' : 'udp4');
    const done = (o: Outcome) => { clearTimeout(t); sock.close(); resolve(o); };
    const t = setTimeout(() => done('timeout'), timeout);
    sock.once('message', () => done('open'));
    sock.once('error', () => done('error'));
    const send = () => sock.send('tm3-probe', p.port, p.host);
    if (p.local) sock.bind({ address: p.local }, send); else send();
  });
}

// "knock" mode: one SYN to each port in order, spaced out, as a knock client sends them.
if (process.argv[2] === 'knock') {
  const [host, ports] = [process.argv[3], process.argv[4].split(',').map(Number)];
  for (const port of ports) {
    await tcp({ proto: 'tcp', host, port }, 150);
  }
  process.exit(0);
}

const timeout = Number(process.argv[2] ?? 800);
const specs = JSON.parse(process.argv[3] ?? '[]') as ProbeSpec[];
const results = await Promise.all(specs.map((p) => (p.proto === 'tcp' ? tcp(p, timeout) : udp(p, timeout))));
process.stdout.write(`${JSON.stringify(results)}\n`);
