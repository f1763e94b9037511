// One SDK-side input against the tunnel, and its verdict. HTTP and upgrade
// inputs are one raw-TCP exchange (fuzz-http-wire.ts) judged by the HTTP
// fuzz's oracle (no stuck request, no token or secret in the reply) plus the
// tunnel's own: no upgrade input gets a 101 (none carries a token the proxy
// accepts), but on the agent worker path, which opens before the refusal. Frame inputs join for real (the raw signal harness's URL through
// the tunnel, a JoinResponse read), send the frames, and must get
// a close with a code RFC 6455 allows for them, or stay open and close
// cleanly when the client ends its side.

import { dialRaw } from '../../harness/raw-socket.ts';
import { judge } from './fuzz-http-oracle.ts';
import { exchange } from './fuzz-http-wire.ts';
import { joinPath, type SdkInput } from './fuzz-tunnel-sdk-gen.ts';
import type { TunnelFuzzTarget } from './fuzz-tunnel-target.ts';

export interface SdkVerdict {
  readonly outcome: string;
  readonly finding?: { kind: string; why: string };
}

/** Close codes a server may send after fuzzed frames: normal, going away, protocol, data, policy, size, and 3000-4999 (the SDK's own echoed, LiveKit's, the proxy's). */
const DEFINED = new Set([1000, 1001, 1002, 1003, 1007, 1008, 1009]);
const defined = (code: number) => DEFINED.has(code) || (code >= 3000 && code <= 4999);

async function frames(t: TunnelFuzzTarget, input: Extract<SdkInput, { kind: 'frames' }>, token: string): Promise<SdkVerdict> {
  const d = await dialRaw({ host: t.host, port: t.port, path: joinPath(token, input.join), timeoutMs: 15_000 });
  if (!d.ok)
    return { outcome: `join failed: ${d.outcome}`, ...(d.outcome.startsWith('error ECONNREFUSED') ? { finding: { kind: 'crash', why: 'refused' } } : {}) };
  const conn = d.conn;
  try {
    if (!(await conn.next(10_000))) return { outcome: 'join failed: no JoinResponse' };
    conn.socket.write(input.frames.bytes);
    const until = async (ms: number) => {
      const end = performance.now() + ms;
      while (!conn.ended && performance.now() < end) await conn.next(end - performance.now());
      return conn.ended;
    };
    let outcome: string;
    if (await until(1500)) outcome = conn.closeCode === null ? 'dropped' : `close ${conn.closeCode}`;
    else {
      // still open: end our side, as an SDK going away does; the tunnel must close too
      conn.socket.end();
      if (!(await until(5000))) return { outcome: 'stuck', finding: { kind: 'stuck', why: `${input.frames.label}: still open 5 s after the client's FIN` } };
      outcome = 'open, closed after FIN';
    }
    const code = conn.closeCode;
    const expect = input.frames.expect;
    if (code !== null && !defined(code)) return { outcome, finding: { kind: 'close-code', why: `${input.frames.label}: closed ${code}` } };
    if (expect && (code === null || !expect.includes(code)))
      return { outcome, finding: { kind: 'close-code', why: `${input.frames.label}: ${outcome}, expected close ${expect.join(' or ')}` } };
    return { outcome };
  } finally {
    conn.destroy();
  }
}

export async function execSdk(t: TunnelFuzzTarget, input: SdkInput, lane: number): Promise<SdkVerdict> {
  if (input.kind === 'frames') return frames(t, input, t.sig.join[lane] as string);
  const http = input.http;
  const ex = await exchange({
    host: t.host,
    port: t.port,
    data: http.bytes,
    method: http.method,
    halfClose: http.short,
    silenceMs: input.kind === 'http-mutated' ? 1000 : 3000,
    timeoutMs: 12_000,
  });
  if (ex.outcome === 'refused') return { outcome: ex.outcome, finding: { kind: 'crash', why: 'the tunnel refused a connection: the process is gone' } };
  // after a 101 come LiveKit's own messages (a refreshed token among them): only the handshake's head is the reply
  const head = ex.status === 101 ? { ...ex, received: ex.received.subarray(0, ex.received.indexOf('\r\n\r\n') + 4) } : ex;
  const v = judge(http, head, t.http, t.secrets);
  // bound-accepted is the proxy's rule, fuzzed against it directly (fuzz-http); the tunnel only forwards
  if (v && v.kind !== 'bound-accepted') return { outcome: ex.outcome, finding: v };
  // no upgrade input carries a token the proxy accepts (refused, bound without the key, none, garbage)
  if (input.kind === 'upgrade' && ex.status === 101 && !(input.upgrade.agent && input.upgrade.dials))
    return {
      outcome: ex.outcome,
      finding: { kind: 'bad-101', why: `${input.upgrade.dials ? 'a refused token' : 'a malformed upgrade'} got 101 on ${input.upgrade.path.slice(0, 60)}` },
    };
  return { outcome: ex.outcome };
}
