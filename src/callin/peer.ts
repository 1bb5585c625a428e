import fs from 'node:fs';

// Who is on the other end of the FastAGI socket. The port listens on loopback, but every local
// user can connect to loopback: one who did could speak AGI, answer "what is the caller's
// address" with any address and get it banned, or try PINs without a phone. So the peer must be
// the Asterisk user (or root). The kernel knows the owner of the connecting socket: both ends of
// a loopback connection are in /proc/net/tcp{,6}, ours found by the inode of our stdin.

export interface TcpRow { local: string; remote: string; uid: number; inode: string }

/** Rows of /proc/net/tcp or tcp6: addresses as kernel hex `ADDR:PORT`, the owner's uid, the inode. */
export function parseProcNetTcp(text: string): TcpRow[] {
  return text.split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 10)
    .map((f) => ({ local: f[1], remote: f[2], uid: Number(f[7]), inode: f[9] }));
}

/** The uid of the process at the other end of our socket `inode`, if that end is on this box. */
export function peerUid(rows: TcpRow[], inode: string): number | undefined {
  const me = rows.find((r) => r.inode === inode);
  if (!me) return undefined;
  return rows.find((r) => r.local === me.remote && r.remote === me.local && r.inode !== '0')?.uid;
}

export type Peer = { kind: 'pipe' } | { kind: 'tcp'; uid?: number } | { kind: 'other' };

/** What stdin is: a pipe (plain AGI: Asterisk ran us itself) or a TCP socket and its peer's uid. */
export function stdinPeer(): Peer {
  const st = fs.fstatSync(0);
  if (st.isFIFO()) return { kind: 'pipe' };
  if (!st.isSocket()) return { kind: 'other' };
  const link = fs.readlinkSync('/proc/self/fd/0');
  const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
  if (!inode) return { kind: 'other' };
  const rows = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => { try { return parseProcNetTcp(fs.readFileSync(f, 'utf8')); } catch { return []; } });
  if (!rows.some((r) => r.inode === inode)) return { kind: 'other' };
  return { kind: 'tcp', uid: peerUid(rows, inode) };
}

/** The uid of a user name in the box's /etc/passwd, if there is one. */
export function uidOf(passwd: string, user: string): number | undefined {
  const line = passwd.split('\n').find((l) => l.split(':')[0] === user);
  const uid = line ? Number(line.split(':')[2]) : NaN;
  return Number.isInteger(uid) ? uid : undefined;
}
