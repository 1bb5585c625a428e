import net from 'node:net';

/**
 * The ms from t0 to the first TCP connect to HOST:PORT the server accepts, or -1 after 5 s. A new
 * connect starts every 5 ms, so the first one after the door opens is within 5 ms of it (the
 * knock and SPA benchmark clients share it).
 */
export function msUntilConnect(host: string, port: number, t0: number): Promise<number> {
  return new Promise<number>((resolve) => {
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
}
