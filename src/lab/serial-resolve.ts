// Lab benchmark baseline: the original ipchecker's way, one name after the other, with tm3's
// own lookup (A and AAAA, same timeout). Prints the wall time in ms.
// Usage: node serial-resolve.js SERVER:PORT TIMEOUT_MS NAME...
import { lookupHost } from '../resolve/dns.js';

const [server, timeoutMs, ...names] = process.argv.slice(2);
const [host, port] = server.split(':');
const t0 = performance.now();
for (const name of names) await lookupHost(name, { servers: [{ host, port: Number(port) }], timeoutMs: Number(timeoutMs) });
process.stdout.write(`${Math.round(performance.now() - t0)}\n`);
