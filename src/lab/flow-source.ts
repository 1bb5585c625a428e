// Lab client that keeps ONE flow alive, as a registered phone or an SSH session does: one TCP
// connection, or one UDP socket on one source port, sending every INTERVAL ms until SIGTERM.
// Prints "ready" once connected, then {"sent": n, "echoed": n} (UDP echoes counted) at the end.
// Usage: node flow-source.js tcp|udp HOST PORT INTERVAL_MS
import net from 'node:net';
import dgram from 'node:dgram';

const [proto, host, port, interval] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5] ?? 200)];
let sent = 0;
let echoed = 0;
let timer: NodeJS.Timeout | undefined;
// stop sending, then give the last echo time to come back before counting
let close = () => undefined as unknown;
const finish = () => {
  clearInterval(timer);
  // a TCP session ends with a reset: its unacknowledged data must not be retransmitted into the next test
  close();
  setTimeout(() => { process.stdout.write(`${JSON.stringify({ sent, echoed })}\n`); process.exit(0); }, 500);
};
process.on('SIGTERM', finish);

if (proto === 'tcp') {
  const sock = net.connect({ host, port }, () => {
    close = () => sock.resetAndDestroy();
    process.stdout.write('ready\n');
    timer = setInterval(() => { sent++; sock.write('tm3-flow\n'); }, interval);
  });
  // a dropped flow stalls and never errors within a test; any error ends the count as it is
  sock.on('error', () => clearInterval(timer));
} else {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  sock.on('message', () => { echoed++; });
  sock.bind(0, () => {
    process.stdout.write('ready\n');
    timer = setInterval(() => { sent++; sock.send('tm3-flow', port, host); }, interval);
  });
}
