// Lab benchmark client: sends one SPA packet (as `fwknop --save-packet` wrote it), then measures
// the time from sending it to the first SYN the server accepts on PORT (first-connect.ts). Prints the ms, or -1 after 5 s.
// Usage: node spa-timer.js HOST PACKET_FILE PORT SPA_PORT
import fs from 'node:fs';
import dgram from 'node:dgram';
import { msUntilConnect } from './first-connect.js';

const [host, file, port, spaPort] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const packet = Buffer.from(fs.readFileSync(file, 'utf8').trim());

const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
await new Promise<void>((res, rej) => udp.send(packet, spaPort, host, (e) => (e ? rej(e) : res())));
const t0 = performance.now();
udp.close();

const ms = await msUntilConnect(host, port, t0);
process.stdout.write(`${Math.round(ms)}\n`);
