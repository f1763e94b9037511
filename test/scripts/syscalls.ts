// Where a join's relay CPU goes that a profile cannot show: the system calls
// the relay process makes per session (join, then leave), counted by
// `strace -c -f` attached to it while N sequential sessions run through:
// the bare Node.js + ws relay (the floor), the proxy classical, volly-pq.v1
// in-band ML-KEM-768 and volly-pq.v2 unbound X-Wing (the default). On
// loopback a write is where the kernel does the receiving side's work too,
// so writes and event-loop wake-ups (epoll_pwait) are what a session pays
// beyond its own JavaScript.
//
//   npm exec -- node test/scripts/syscalls.ts [--sessions=60]
//
// Needs strace (Debian: apt-get install strace) and permission to attach
// (root, or ptrace_scope 0). Loopback only; run it on a quiet machine.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSession } from '../bench/lib/client.ts';
import { openV2Session } from '../bench/lib/client-v2.ts';
import { startBenchProxy, startNodeWsRelay } from '../bench/lib/servers.ts';
import { mintToken } from '../bench/lib/tokens.ts';
import { startLiveKit } from '../harness/livekit.ts';
import { fetchServerKeys } from '../harness/v2-signal.ts';

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '60' } } });
const N = Number(values.sessions);
const SHOWN = ['write', 'writev', 'read', 'epoll_pwait', 'futex'] as const;

/** strace -c's table → calls per syscall name. */
function parseStraceSummary(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (cols.length >= 5 && /^\d+(\.\d+)?$/.test(cols[0] as string) && /^\d+$/.test(cols[3] as string)) out.set(cols.at(-1) as string, Number(cols[3]));
  }
  return out;
}

async function counted(name: string, pid: number, one: (i: number) => Promise<void>): Promise<Map<string, number>> {
  for (let i = 0; i < 5; i++) await one(100_000 + i); // warm-up, not counted
  const file = join(tmpdir(), `volly-syscalls-${name.replace(/\W+/g, '-')}-${process.pid}.txt`);
  const tracer = spawn('strace', ['-c', '-f', '-p', String(pid), '-o', file], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 800)); // attached
  for (let i = 0; i < N; i++) await one(i);
  tracer.kill('SIGINT');
  await new Promise((r) => tracer.once('exit', r));
  return parseStraceSummary(readFileSync(file, 'utf8'));
}

const livekit = await startLiveKit();
const proxy = await startBenchProxy(livekit);
const bare = await startNodeWsRelay(livekit);
try {
  const xwing = (await fetchServerKeys(proxy.wsUrl)).find((k) => k.algorithm === 'X-Wing');
  if (!xwing) throw new Error('the bench proxy publishes no X-Wing key');
  const classicalJoin = (baseUrl: string, creds: Parameters<typeof mintToken>[0], room: string) => async (i: number) => {
    const s = await openSession({ baseUrl, token: await mintToken(creds, room, `p${i}`), timeoutMs: 15_000 });
    s.close();
    await s.closed;
  };
  const rows: Array<[string, Map<string, number>]> = [
    ['bare Node.js + ws relay', await counted('bare', bare.pid, classicalJoin(bare.wsUrl, livekit, 'sys-bare'))],
    ['proxy classical', await counted('classical', proxy.pid, classicalJoin(proxy.wsUrl, proxy, 'sys-classical'))],
    [
      'v1 in-band ML-KEM-768',
      await counted('v1', proxy.pid, async (i) => {
        const token = await mintToken(proxy, 'sys-v1', `p${i}`);
        const s = await openSession({ baseUrl: proxy.wsUrl, token, sealed: { algorithm: 'ML-KEM-768', flow: 'in-band' }, timeoutMs: 15_000 });
        s.close();
        await s.closed;
      }),
    ],
    [
      'v2 unbound X-Wing',
      await counted('v2', proxy.pid, async (i) => {
        const s = await openV2Session({ baseUrl: proxy.wsUrl, token: await mintToken(proxy, 'sys-v2', `p${i}`), serverKey: xwing, timeoutMs: 15_000 });
        await s.close();
      }),
    ],
  ];
  process.stdout.write(`System calls per session (join + leave) of the relay process, ${N} sessions each:\n\n`);
  process.stdout.write(`| configuration | ${SHOWN.join(' | ')} | writes (write + writev) |\n|:--|${SHOWN.map(() => '--:|').join('')}--:|\n`);
  for (const [name, m] of rows) {
    const per = (k: string) => (m.get(k) ?? 0) / N;
    process.stdout.write(`| ${name} | ${SHOWN.map((k) => per(k).toFixed(1)).join(' | ')} | ${(per('write') + per('writev')).toFixed(1)} |\n`);
  }
} finally {
  await proxy.stop();
  await bare.stop();
  await livekit.stop();
}
