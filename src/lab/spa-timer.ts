// Lab benchmark client: sends one SPA packet (as `fwknop --save-packet` wrote it), then measures
// the time from sending it to the first SYN the server accepts on PORT, as knock-timer.ts does
// for a knock: a new connect every 5 ms. Prints the ms, or -1 after 5 s.
// Usage: node spa-timer.js HOST PACKET_FILE PORT SPA_PORT
import fs from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';

const [host, file, port, spaPort] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const packet = Buffer.from(fs.readFileSync(file, 'utf8').trim());

const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
await new Promise<void>((res, rej) => udp.send(packet, spaPort, host, (e) => (e ? rej(e) : res())));
const t0 = performance.now();
udp.close();

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
