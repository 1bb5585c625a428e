// Lab benchmark client: knocks, then measures the time from its last knock packet to the first
// SYN the server accepts on PORT. A new connect starts every 5 ms, so the first one after the
// grant is within 5 ms of it. Prints the ms, or -1 after 5 s.
// Usage: node knock-timer.js HOST KNOCK_PORTS PORT
import net from 'node:net';

const [host, knocks, port] = [process.argv[2], process.argv[3].split(',').map(Number), Number(process.argv[4])];

const knock = (p: number) => { const s = net.connect({ host, port: p }); s.on('error', () => undefined); setTimeout(() => s.destroy(), 100); };
for (const p of knocks.slice(0, -1)) {
  knock(p);
  await new Promise((r) => setTimeout(r, 100));
}
knock(knocks[knocks.length - 1]);
const t0 = performance.now();

const ms = await new Promise<number>((resolve) => {
  const sockets: net.Socket[] = [];
  const finish = (v: number) => { clearInterval(timer); clearTimeout(limit); for (const s of sockets) s.destroy(); resolve(v); };
  const attempt = () => {
    const s = net.connect({ host, port });
    sockets.push(s);
    s.on('error', () => undefined);
    s.once('connect', () => finish(performance.now() - t0));
  };
  const timer = setInterval(attempt, 5);
  const limit = setTimeout(() => finish(-1), 5000);
  attempt();
});
process.stdout.write(`${Math.round(ms)}\n`);
