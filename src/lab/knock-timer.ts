// Lab benchmark client: knocks, then measures the time from its last knock packet to the first
// SYN the server accepts on PORT (first-connect.ts: a new connect every 5 ms). Prints the ms, or -1 after 5 s.
// Usage: node knock-timer.js HOST KNOCK_PORTS PORT
import net from 'node:net';
import { msUntilConnect } from './first-connect.js';

const [host, knocks, port] = [process.argv[2], process.argv[3].split(',').map(Number), Number(process.argv[4])];

const knock = (p: number) => { const s = net.connect({ host, port: p }); s.on('error', () => undefined); setTimeout(() => s.destroy(), 100); };
for (const p of knocks.slice(0, -1)) {
  knock(p);
  await new Promise((r) => setTimeout(r, 100));
}
knock(knocks[knocks.length - 1]);
const t0 = performance.now();

const ms = await msUntilConnect(host, port, t0);
process.stdout.write(`${Math.round(ms)}\n`);
