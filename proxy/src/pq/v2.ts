/**
 * The volly-pq.v2 handshake stage (docs/PROTOCOL.md, "v2.4 Server").
 *
 * prepareV2 runs before the upgrade is answered, from the request alone:
 * first flight → key lookup → decapsulation → early frame → clock → register
 * → token. Its answer is one decision the accepted socket then carries out
 * (v2Stage): an unsealed refusal (4400/4403/4421/4409/4503, nothing sent,
 * nothing dialed), frames then a close (stale clock 4425, or a token refused
 * after the keys: sealed), or a ServerHello and a session. An unbound token
 * is dialed at once, in parallel with the 101 and the ServerHello; a bound
 * one only once the client's key confirmation proved the bound secret key.
 *
 * Everything LiveKit sees comes from the sealed early frame: its path, its
 * query and its token (re-signed without PQ claims). The upgrade URL only
 * routes, and must name the same path.
 */
import type { IncomingMessage } from 'node:http';
import { CloseCode, checkAlgorithm, closeCodeInfo, getAead, getKem, KeyFormatError, ProtocolError, toHex, VollyError, v2 } from '@volly/shared';
import type { Grant } from '../authorize.js';
import type { Config } from '../config.js';
import type { Context } from '../context.js';
import { dial } from '../dial.js';
import type { Logger } from '../log.js';
import { createRegister, type Register } from '../register.js';
import type { DialResult } from '../upstream.js';
import { type Stage, type StageResult, sessionV2Crypto } from './stage.js';
import { MAX_EARLY } from './v1.js';

/** What the proxy holds for v2: the server state machine's options, the register, the published document. */
export interface V2Server {
  readonly options: v2.ServerV2Options;
  readonly register: Register;
  /** GET /.well-known/volly-pq: every static key, the current one first. */
  readonly document: string;
}

/** The v2 server when VOLLY_PROTOCOLS has v2 and VOLLY_SERVER_KEYS a KEM key; else v2 is not served. */
export function createV2Server(config: Config, log: Logger): V2Server | undefined {
  if (!config.protocols.includes('v2') || !config.staticKeys?.length) return undefined;
  return {
    options: { keys: config.staticKeys, getKem: (a) => getKem(a), aead: getAead(), now: Date.now, allowed: config.algorithms },
    register: createRegister(config.redisUrl, log),
    document: v2.wellKnownDocument(config.staticKeys.map((k) => k.key)),
  };
}

/** A refusal already explained to the client (sealed, or the stale-clock reply): the close reason is the code's name only. */
class AnsweredRefusal extends VollyError {
  readonly code = 'ERR_V2_ANSWERED';
  override readonly closeCode: number;
  constructor(closeCode: number) {
    super(closeCodeInfo(closeCode).name);
    this.closeCode = closeCode;
  }
}

export type Prepared =
  | { readonly type: 'refuse'; readonly error: VollyError }
  | { readonly type: 'answer'; readonly frames: Uint8Array[]; readonly closeCode: number }
  | {
      readonly type: 'accept';
      readonly serverHello: Uint8Array;
      readonly session: v2.ServerSessionV2;
      readonly grant: Grant;
      readonly connect: v2.EarlyConnect;
      readonly algorithm: string;
      readonly sessionId: string;
      /** Unbound: LiveKit is being dialed already. */
      readonly dial?: { readonly result: Promise<DialResult>; readonly abort: AbortController };
    };

const RESULT: Partial<Record<v2.V2ErrorCode, string>> = {
  ERR_V2_ALGORITHM: 'refused_algorithm',
  ERR_V2_UNKNOWN_KEY: 'unknown_key',
  ERR_V2_REPLAY: 'replay',
  ERR_V2_REGISTER: 'register_unavailable',
};

/** The offered subprotocols, in order (the ClientHello travels as one of them). */
export function offeredProtocols(req: IncomingMessage): string[] {
  return String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** Everything v2 decides before answering the upgrade. Never throws: every failure is a decision. */
export async function prepareV2(ctx: Context, server: V2Server, req: IncomingMessage, url: URL, headers: Record<string, string>): Promise<Prepared> {
  const input = { protocols: offeredProtocols(req), urlPath: url.pathname, query: url.search.slice(1) };
  const decision = await v2.acceptFirstFlight(server.options, server.register, input);
  const count = (result: string) => ctx.metrics.v2FirstFlights.inc({ result });
  if (decision.type === 'refuse') {
    count(RESULT[decision.error.code] ?? 'malformed');
    return { type: 'refuse', error: decision.error };
  }
  if (decision.type === 'stale') {
    count('stale');
    return { type: 'answer', frames: decision.frames, closeCode: decision.closeCode };
  }
  count('fresh');
  const { flight } = decision;
  let grant: Grant;
  let bound: v2.BoundKey | undefined;
  try {
    grant = await ctx.auth.verify(flight.connect.accessToken);
    if (grant.pq) bound = { algorithm: checkAlgorithm(grant.pq.algorithm, ctx.config.algorithms), publicKey: grant.pq.publicKey };
  } catch (err) {
    // From here on refusals are sealed: only the client that sent this flight can read why.
    const e = err instanceof VollyError ? err : undefined;
    if (!e) ctx.log.error({ err: (err as Error)?.message }, 'unexpected v2 token error');
    const code = e?.closeCode ?? CloseCode.Internal;
    return { type: 'answer', frames: flight.refuseSealed(code, e?.message ?? 'internal error'), closeCode: code };
  }
  let accepted: ReturnType<v2.ServerFlight['accept']>;
  try {
    accepted = flight.accept(bound);
  } catch (err) {
    // A signed token naming a bound key that is no encapsulation key (the ephemeral key was checked with the flight).
    if (!(err instanceof KeyFormatError)) throw err;
    const code = CloseCode.Unauthorized;
    return { type: 'answer', frames: flight.refuseSealed(code, "the token's bound key is not a valid encapsulation key"), closeCode: code };
  }
  const { serverHello, session } = accepted;
  const { connect } = flight;
  const base = { type: 'accept', serverHello, session, grant, connect, algorithm: flight.hello.algorithm, sessionId: toHex(flight.hello.sessionId) } as const;
  if (bound) return base;
  const token = await ctx.auth.downgrade(grant);
  const abort = new AbortController();
  const result = dial(ctx, { mode: 'pq', path: connect.path, query: connect.query, token, headers, signal: abort.signal });
  return { ...base, dial: { result, abort } };
}

/** A decision whose upgrade will never be answered (the client left, the proxy drains): undo what it started. */
export function discardPrepared(p: Prepared): void {
  if (p.type !== 'accept') return;
  p.session.destroy();
  if (p.dial) cancelDial(p.dial);
}

/** Stops a dial nobody will relay: aborted if still pending, closed if LiveKit already answered. */
function cancelDial(d: NonNullable<Extract<Prepared, { type: 'accept' }>['dial']>): void {
  d.abort.abort();
  void d.result.then((up) => up.ok && up.ws.terminate());
}

/** Carries out a decision on the accepted socket, to a keyed, authorized request. */
export function v2Stage(p: Prepared, startedAt: number): Stage {
  return {
    protocol: 'v2',
    startedAt,
    refusal: () => undefined,
    async run(io): Promise<StageResult> {
      io.facts.protocol = 'v2';
      if (p.type === 'refuse') throw p.error;
      if (p.type === 'answer') {
        for (const frame of p.frames) io.ws.send(frame);
        throw new AnsweredRefusal(p.closeCode);
      }
      const crypto = sessionV2Crypto(p.session);
      io.keyed(crypto);
      Object.assign(io.facts, { algorithm: p.algorithm, sessionId: p.sessionId, flow: p.dial ? 'unbound' : 'bound' });
      io.ws.send(p.serverHello);
      const result = { algorithm: p.algorithm, grant: p.grant, path: p.connect.path, query: p.connect.query, crypto };
      if (p.dial) {
        const { dial } = p;
        // A session that ends before the relay starts never takes this socket (its #run may not reach the await).
        io.signal.addEventListener('abort', () => cancelDial(dial), { once: true });
        return { ...result, dialed: dial.result };
      }
      // Bound: the key confirmation was sealed under keys that need ss_b, so it proves the bound secret key.
      const m = await io.inbox.next(io.signal, undefined, 'key confirmation');
      io.inbox.earlyOnly(MAX_EARLY);
      if (!m.isBinary) throw new ProtocolError('text frame during the handshake');
      if (crypto.open(m.data) !== null) throw new ProtocolError('first client frame is not the key confirmation');
      return result;
    },
  };
}
