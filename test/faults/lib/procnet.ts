// What the kernel holds in a process's TCP sockets: /proc/<pid>/net/tcp (and
// tcp6) matched to the socket inodes among /proc/<pid>/fd. Linux only.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * Bytes received but not yet read (rx_queue) in `pid`'s TCP sockets whose
 * remote port is `remotePort`: a process that stopped reading a peer leaves
 * them there.
 */
export function upstreamRecvQueue(pid: number, remotePort: number): number {
  const inodes = socketInodes(pid);
  let total = 0;
  for (const file of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const rem = f[2] as string;
      const port = Number.parseInt(rem.slice(rem.lastIndexOf(':') + 1), 16);
      if (port !== remotePort || !inodes.has(f[9] as string)) continue;
      const rx = (f[4] as string).split(':')[1] as string;
      total += Number.parseInt(rx, 16);
    }
  }
  return total;
}
