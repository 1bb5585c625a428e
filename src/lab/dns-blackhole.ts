// Lab DNS server that never answers: counts the queries it gets, prints the count on SIGTERM.
// Usage: node dns-blackhole.js ADDRESS PORT
import dgram from 'node:dgram';

let queries = 0;
const sock = dgram.createSocket(process.argv[2].includes(':') ? 'udp6' : 'udp4');
sock.on('message', () => { queries++; });
sock.bind(Number(process.argv[3]), process.argv[2], () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => { process.stdout.write(`${queries}\n`); process.exit(0); });
