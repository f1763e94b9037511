/**
 * volly-pq.v1 under PqWebSocket: one inner socket offering `volly-pq.v1`, a
 * ClientSession, and v1's server-authentication pins (`serverKeys`, else the
 * token's `video.pqServerKeys`): a pq_response not signed by a pinned key
 * fails with 4526 before the token or query is sealed; malformed pins in the
 * token fail the same way before anything is sent.
 */
import { equalBytes, toHex } from '../bytes.js';
import { CloseCode, isSendableCloseCode } from '../close-codes.js';
import { closeReason } from '../close-reason.js';
import { fingerprint } from '../handshake.js';
import type { KemAlgorithm } from '../kem/types.js';
import { newSessionId, SUBPROTOCOL } from '../protocol.js';
import { type ServerKey, serverKeys } from '../sig/server-auth.js';
import { peekTokenPayload, readPqClaims, readServerKeyClaims } from '../token.js';
import type { CloseInfo, Link, LinkHost, PqSessionInfo } from './link.js';
import { type ClientOutput, ClientSession, type SessionFailure } from './session.js';
import { splitSignalUrl } from './url.js';
import type { PqWebSocketOptions } from './websocket.js';

/** The token's PQ binding, read without verifying (the client only looks for its own key); null when absent or malformed. */
export function boundClaims(token: string) {
  const payload = token ? peekTokenPayload(token) : null;
  try {
    return payload ? readPqClaims(payload, 0) : null;
  } catch {
    return null;
  }
}

type Pins = { from: 'options' | 'token' | 'none'; keys: ServerKey[]; error?: SessionFailure };

/**
 * The server keys this socket pins: the app's own when it gave any (malformed
 * ones throw: an app bug), else its token's (the token came from the app's
 * token server before this socket existed, not through the proxy). Token pins
 * that are malformed, or pins without a signature backend, fail closed.
 */
export function resolvePins(opts: PqWebSocketOptions, token: string): Pins {
  if (opts.serverKeys?.length) {
    const keys = serverKeys(opts.serverKeys);
    if (!opts.getSigner) throw new TypeError('PqWebSocket: serverKeys need getSigner');
    return { from: 'options', keys };
  }
  const payload = token ? peekTokenPayload(token) : null;
  let keys: ServerKey[] | null;
  try {
    keys = payload ? readServerKeyClaims(payload) : null;
  } catch (err) {
    return { from: 'token', keys: [], error: { closeCode: CloseCode.ServerAuth, message: (err as Error).message, code: 'ERR_TOKEN_CLAIMS' } };
  }
  if (!keys) return { from: 'none', keys: [] };
  if (!opts.getSigner)
    return {
      from: 'token',
      keys: [],
      error: { closeCode: CloseCode.ServerAuth, message: 'the token pins server keys but no signature backend is configured' },
    };
  return { from: 'token', keys };
}

/** A client may only close with 1000 or 3000-4999 (RFC 6455 §7.4.2, WHATWG); anything else goes out as 4400. */
export const clientCloseCode = (code: number): number => (isSendableCloseCode(code, 'client') ? code : CloseCode.Malformed);

export class V1Link implements Link {
  readonly #inner: WebSocket;
  readonly #session: ClientSession;
  readonly #mode: 'in-band' | 'token-bound';
  readonly #algorithm: KemAlgorithm;
  readonly #pins: Pins;
  #failure: SessionFailure | undefined;
  #failTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly host: LinkHost,
    url: string,
    token: string,
    opts: PqWebSocketOptions,
  ) {
    const claims = boundClaims(token);
    const bound = claims ? opts.keyPairs?.find((k) => equalBytes(k.publicKey, claims.publicKey)) : undefined;
    // A token bound to a key we do not hold goes in-band: the proxy then refuses it
    // with 4401 (key mismatch), which the app sees as LiveKit's usual 401.
    this.#mode = bound ? 'token-bound' : 'in-band';
    const algorithm = (bound && claims?.algorithm) || opts.algorithm || 'ML-KEM-768';
    this.#algorithm = algorithm;
    const sessionId = newSessionId(opts.randomBytes);
    const split = splitSignalUrl(url, this.#mode, sessionId);
    const kem = opts.getKem(algorithm);
    this.#pins = resolvePins(opts, token);
    const pinned = this.#pins.keys.length > 0 && opts.getSigner;
    this.#session = new ClientSession({
      kem,
      aead: opts.aead,
      mode: this.#mode,
      ...(bound ? { keyPair: bound } : {}),
      accessToken: split.accessToken,
      query: split.query,
      sessionId,
      randomBytes: opts.randomBytes,
      ...(pinned ? { serverKeys: this.#pins.keys, signer: opts.getSigner('ML-DSA-65') } : {}),
    });
    this.#inner = new opts.WebSocket(split.socketUrl, SUBPROTOCOL);
    this.#inner.binaryType = 'arraybuffer';
    const pinError = this.#pins.error;
    // Bad pins: nothing is sent; the socket fails as soon as it opens.
    this.#inner.onopen = () => this.#apply(pinError ? [{ type: 'failed', failure: pinError }] : this.#session.start());
    this.#inner.onmessage = (ev: MessageEvent) => this.#onInnerMessage(ev.data);
    this.#inner.onerror = () => {
      if (this.#failure) return;
      // Recorded, not reported: with no recorded failure the validate shim answers with a network error, as the truth is.
      this.#failure = { closeCode: CloseCode.Upstream, message: 'proxy unreachable' };
      this.host.failed(this.#failure, false);
    };
    this.#inner.onclose = (ev: CloseEvent) => this.#onInnerClose(ev);
  }

  get bufferedAmount(): number {
    return this.#inner.bufferedAmount;
  }

  get info(): PqSessionInfo {
    const r = this.#session.result;
    const { sealed, opened } = this.#session.counters;
    return {
      protocol: 'volly-pq.v1',
      mode: this.#mode,
      algorithm: r?.algorithm ?? this.#algorithm,
      sessionId: r?.sessionId,
      fingerprint: r ? fingerprint(r) : undefined,
      framesSealed: sealed,
      framesOpened: opened,
      serverKeysFrom: this.#pins.from,
      serverKeyId: r?.serverKey ? toHex(r.serverKey.keyId) : undefined,
    };
  }

  send(data: string | Uint8Array): void {
    this.#inner.send(this.#session.seal(data));
  }

  close(code: number, reason?: string): void {
    this.#inner.close(code, reason);
  }

  #onInnerMessage(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) {
      this.#apply([{ type: 'failed', failure: { closeCode: CloseCode.Malformed, message: 'text frame on a sealed session' } }]);
      return;
    }
    this.#apply(this.#session.receive(new Uint8Array(data)));
  }

  #apply(outputs: ClientOutput[]): void {
    for (const out of outputs) {
      if (out.type === 'send') this.#inner.send(out.frame);
      else if (out.type === 'message') this.host.deliver(out.kind, out.payload);
      else if (out.type === 'failed') this.#onFailure(out.failure);
    }
    // `keyed` comes with the sealed connect: once both went out, LiveKit frames may follow.
    if (outputs.some((o) => o.type === 'keyed')) this.host.sendable?.();
  }

  #onFailure(failure: SessionFailure): void {
    this.#failure = failure;
    this.host.failed(failure);
    // The reason is cut to 123 UTF-8 bytes: a longer one makes close() throw, here inside a timer.
    const close = () => this.#inner.close(clientCloseCode(failure.closeCode), closeReason(failure.message));
    // An unauthenticated server is left at once: it waits for a VollyConnect that never comes.
    if (failure.closeCode === CloseCode.ServerAuth) close();
    // The proxy closes right after its error; close ourselves if it does not.
    else this.#failTimer = setTimeout(close, 1000);
  }

  #onInnerClose(ev: CloseEvent): void {
    clearTimeout(this.#failTimer);
    this.#session.close();
    const failure = this.#failure;
    // A refused handshake (pq_response success=false, before any keys) carries
    // only a message; the proxy's close code says why (4401 token, 4403 policy,
    // ...). Take it, so the validate shim answers 401/403 and not 400.
    if (failure && !this.#session.result && failure.status === undefined && ev.code >= 4000 && ev.code <= 4999 && ev.code !== failure.closeCode) {
      this.#failure = { ...failure, closeCode: ev.code };
      this.host.failed(this.#failure);
    }
    const info: CloseInfo = { code: ev.code, reason: ev.reason, wasClean: ev.wasClean };
    this.host.finished(info);
  }
}
