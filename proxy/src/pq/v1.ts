/**
 * The volly-pq.v1 handshake stage: from the upgrade to the opened, sealed
 * VollyConnect. It owns the v1 rules about the upgrade URL and the order of
 * the first messages; it neither authorizes the token it carries (beyond the
 * token-bound flow's key lookup) nor dials.
 *
 *   token-bound: the URL names the bound key (access_token + volly_sid); the
 *                proxy speaks first with pq_response;
 *   in-band:     the URL carries nothing; the client's pq_handshake comes
 *                first (within first_message_timeout_ms), the proxy answers.
 * Then the first sealed frame must be VollyConnect: it confirms the keys.
 */
import {
  checkAlgorithm,
  checkSessionId,
  decodeControl,
  decodeHandshake,
  FrameKind,
  getAead,
  getKem,
  type KemAlgorithm,
  newSessionId,
  ProtocolError,
  randomBytes,
  SESSION_ID_PARAM,
  type SealedChannel,
  sealedChannel,
  serverHandshake,
} from '@volly/shared';
import type { Grant } from '../authorize.js';
import type { Context } from '../context.js';
import { UpgradeUrlError } from '../errors.js';
import type { StageIo } from './stage.js';

const aead = getAead();

/** Client frames that may follow VollyConnect before LiveKit answers (docs/PROTOCOL.md §3); one more is 4400. */
export const MAX_EARLY = 16;
const TOKEN_PARAM = 'access_token';

export interface V1Keyed {
  readonly channel: SealedChannel;
  readonly algorithm: KemAlgorithm;
  /** The key the session was keyed with: a bound token must name exactly this one. */
  readonly clientKey: Uint8Array;
  /** The sealed request: the token (empty: the URL's) and LiveKit's query. */
  readonly connect: { readonly accessToken: string; readonly query: string };
  /** The URL's bound token, already verified (token-bound flow). */
  readonly urlGrant?: Grant;
}

/**
 * The URL only routes a v1 upgrade: in-band it carries nothing, token-bound
 * only `access_token` and `volly_sid`. Anything else would reach LiveKit
 * outside the sealed channel (LiveKit takes the first of repeated parameters),
 * so it is refused before a key exists.
 */
export function checkUpgradeQuery(url: URL): { token: string | null; sessionId: string | null } {
  const params = url.searchParams;
  for (const name of params.keys())
    if (name !== TOKEN_PARAM && name !== SESSION_ID_PARAM) throw new UpgradeUrlError('the upgrade URL may carry only access_token and volly_sid');
  if (params.getAll(TOKEN_PARAM).length > 1 || params.getAll(SESSION_ID_PARAM).length > 1) throw new UpgradeUrlError('repeated upgrade URL parameter');
  const token = params.get(TOKEN_PARAM);
  const sessionId = params.get(SESSION_ID_PARAM);
  if (token === null && sessionId !== null) throw new UpgradeUrlError('volly_sid without a token-bound access_token');
  return { token, sessionId };
}

/** What the stage works with (the session owns all of it); v1 reports its keys as the sealed channel they are. */
export interface V1Io extends Omit<StageIo, 'keyed'> {
  /** Called as soon as keys exist: from then on the session's errors are sealed, and it wipes the channel. */
  readonly keyed: (channel: SealedChannel) => void;
}

/** Runs the v1 handshake to the opened VollyConnect; throws a VollyError to end the session. */
export async function v1Handshake(io: V1Io, url: URL): Promise<V1Keyed> {
  const { ctx, inbox, signal } = io;
  const { token, sessionId } = checkUpgradeQuery(url);
  let keyed: { channel: SealedChannel; algorithm: KemAlgorithm; clientKey: Uint8Array };
  let urlGrant: Grant | undefined;
  if (token !== null) {
    urlGrant = await ctx.auth.verify(token);
    signal.throwIfAborted();
    // A plain token in the URL would travel outside the PQ channel: it belongs in VollyConnect.
    if (!urlGrant.pq) throw new UpgradeUrlError('a token in the upgrade URL must be bound to a post-quantum key; send it sealed');
    io.facts.flow = 'token-bound';
    keyed = respond(io, urlGrant.pq.algorithm, tokenBoundSessionId(ctx, sessionId), urlGrant.pq.publicKey);
  } else {
    const m = await inbox.next(signal, ctx.config.limits.firstMessageTimeoutMs, 'pq_handshake');
    if (!m.isBinary) throw new ProtocolError('text frame during the handshake');
    const h = decodeHandshake(m.data);
    io.facts.flow = 'in-band';
    keyed = respond(io, h.algorithm, h.sessionId, h.publicKey);
  }
  const m = await inbox.next(signal, undefined, 'VollyConnect');
  inbox.earlyOnly(MAX_EARLY);
  if (!m.isBinary) throw new ProtocolError('text frame during the handshake');
  const { kind, payload } = keyed.channel.opener.open(m.data);
  const c = kind === FrameKind.Control ? decodeControl(payload) : undefined;
  if (c?.case !== 'connect') throw new ProtocolError('first sealed frame is not VollyConnect');
  return { ...keyed, connect: { accessToken: c.accessToken, query: c.query }, ...(urlGrant ? { urlGrant } : {}) };
}

/**
 * Token-bound: the client's own session id (volly_sid) guards it against a
 * replayed pq_response. Without one the client has no such guard: refused
 * unless the operator admits old clients (counted).
 */
function tokenBoundSessionId(ctx: Context, chosen: string | null): string {
  if (chosen !== null) return checkSessionId(chosen);
  if (!ctx.config.v1AllowMissingSid) {
    ctx.metrics.v1MissingSid.inc({ result: 'refused' });
    throw new UpgradeUrlError('token-bound upgrade without volly_sid (no replay guard)');
  }
  ctx.metrics.v1MissingSid.inc({ result: 'admitted' });
  return newSessionId(randomBytes);
}

function respond(io: V1Io, alg: string, sessionId: string, publicKey: Uint8Array) {
  const { ctx } = io;
  const algorithm = checkAlgorithm(alg, ctx.config.algorithms);
  Object.assign(io.facts, { algorithm, sessionId });
  // With VOLLY_SERVER_KEYS the response carries the first key's signature over th (server authentication).
  const { response, result } = serverHandshake(getKem(algorithm), sessionId, publicKey, ctx.config.serverKeys?.[0]?.signer);
  const channel = sealedChannel(result, 'server', aead, ctx.config.limits.maxFrameBytes);
  io.keyed(channel);
  io.ws.send(response);
  return { channel, algorithm, clientKey: publicKey };
}
