/**
 * volly-pq.v2 under PqWebSocket (docs/PROTOCOL.md, "volly-pq.v2"): picks the
 * server's static key (v2-keys.ts), sends the whole first flight in the
 * upgrade request (ClientV2), and recovers on its own, once each:
 * - close 4421 before the ServerHello (unknown key id): refetch the
 *   well-known document and make a new attempt; keys the app configured are
 *   not refetched (the app must update them) and the join fails with 4421;
 * - a sealed 4425 (stale clock): a new attempt with the server's time offset.
 *   An unsealed 4425 can come from anyone on the path and is never retried.
 * `auto` falls back to v1 only when the proxy serves no document and nothing
 * (app keys, token pins) asks for v2; a client holding a key or a pin fails
 * closed instead.
 */
import { equalBytes, toBase64Url, toHex } from '../bytes.js';
import { CloseCode } from '../close-codes.js';
import { closeReason } from '../close-reason.js';
import { VollyError } from '../errors.js';
import type { KemKeyPair } from '../kem/types.js';
import { KEM_ALGORITHMS } from '../kem/types.js';
import { peekTokenPayload, readServerKemKeyPins, SERVER_KEM_KEYS_CLAIM, SERVER_KEYS_CLAIM } from '../token.js';
import { ClientV2, type ClientV2Failure, type ClientV2Output } from '../v2/client.js';
import type { ServerStaticKey } from '../v2/well-known.js';
import type { Link, LinkHost, PqSessionInfo } from './link.js';
import type { SessionFailure } from './session.js';
import { splitSignalUrl } from './url.js';
import { boundClaims, clientCloseCode } from './v1-link.js';
import { chooseServerKey, defaultServerKeyCache, wellKnownUrlFor } from './v2-keys.js';
import type { PqWebSocketOptions } from './websocket.js';

const videoClaim = (token: string, claim: string): boolean => {
  const video = peekTokenPayload(token)?.video;
  return typeof video === 'object' && video !== null && claim in video;
};

/** Whether a socket speaks v2: `yes` (never anything else), `maybe` (v2 if the proxy serves keys, else v1), `no`. */
export function v2Wanted(opts: PqWebSocketOptions, token: string): 'yes' | 'maybe' | 'no' {
  if (opts.protocol === 'v2') return 'yes';
  if (opts.protocol !== 'auto') return 'no';
  if (opts.serverKemKeys?.length || videoClaim(token, SERVER_KEM_KEYS_CLAIM)) return 'yes';
  // v1 signature pins are stronger than a document nothing checks: keep them.
  if (opts.serverKeys?.length || videoClaim(token, SERVER_KEYS_CLAIM)) return 'no';
  return 'maybe';
}

type Bound = { readonly kem: ReturnType<PqWebSocketOptions['getKem']>; readonly keyPair: KemKeyPair };

export class V2Link implements Link {
  readonly #base: string;
  readonly #connect: { path: string; query: string; accessToken: string };
  readonly #now: () => number;
  #pins: Uint8Array[] | undefined;
  #bound: Bound | undefined;
  #early: SessionFailure | undefined;
  #key: ServerStaticKey | undefined;
  #from: 'options' | 'document' | undefined;
  #client: ClientV2 | undefined;
  #inner: WebSocket | undefined;
  #opened = false;
  #closed = false;
  #failure: SessionFailure | undefined;
  #failTimer: ReturnType<typeof setTimeout> | undefined;
  #sessionId: Uint8Array | undefined;
  #th2: Uint8Array | undefined;
  #sealed = 0;
  #openedFrames = 0;
  #retries = 0;
  #refetched = false;
  #clockRetried = false;

  constructor(
    private readonly host: LinkHost,
    url: string,
    token: string,
    private readonly opts: PqWebSocketOptions,
    private readonly mayFallBack: boolean,
  ) {
    const u = new URL(url);
    this.#base = `${u.protocol}//${u.host}${u.pathname}`;
    const { query } = splitSignalUrl(url, 'in-band');
    this.#connect = { path: u.pathname, query, accessToken: token };
    this.#now = opts.now ?? Date.now;
    try {
      const payload = peekTokenPayload(token);
      this.#pins = (payload && readServerKemKeyPins(payload)) ?? undefined;
    } catch (err) {
      this.#early = { closeCode: CloseCode.ServerAuth, message: (err as Error).message, code: 'ERR_TOKEN_CLAIMS' };
    }
    const claims = boundClaims(token);
    const keyPair = claims ? opts.keyPairs?.find((k) => equalBytes(k.publicKey, claims.publicKey)) : undefined;
    if (claims && keyPair) this.#bound = { kem: opts.getKem(claims.algorithm), keyPair };
    // A bound token whose key we do not hold would only be refused: do not send it anywhere.
    if (claims && !keyPair) this.#early ??= { closeCode: CloseCode.Unauthorized, message: 'the token is bound to a key this client does not hold' };
    if (!token) this.#early ??= { closeCode: CloseCode.Unauthorized, message: 'no access token' };
    // After the constructor returns: the application attaches its handlers first.
    queueMicrotask(() => void this.#begin(false));
  }

  get bufferedAmount(): number {
    return this.#inner?.bufferedAmount ?? 0;
  }

  get info(): PqSessionInfo {
    return {
      protocol: 'volly-pq.v2',
      mode: this.#bound ? 'bound' : 'unbound',
      algorithm: this.#key?.algorithm ?? 'X-Wing',
      sessionId: this.#sessionId && toBase64Url(this.#sessionId),
      fingerprint: this.#th2 && toHex(this.#th2.subarray(0, 8)),
      framesSealed: this.#sealed,
      framesOpened: this.#openedFrames,
      serverKeysFrom: this.#from ?? 'none',
      serverKeyId: this.#key && toHex(this.#key.id),
      retries: this.#retries,
    };
  }

  send(data: string | Uint8Array): void {
    (this.#inner as WebSocket).send((this.#client as ClientV2).seal(data));
    this.#sealed++;
  }

  close(code: number, reason?: string): void {
    this.#closed = true;
    if (this.#inner) this.#inner.close(code, reason);
    // Still choosing a key: nothing to close but the socket itself.
    else setTimeout(() => this.host.finished({ code: 1006, reason: '', wasClean: false }), 0);
  }

  async #begin(refresh: boolean): Promise<void> {
    if (this.#closed) return;
    if (this.#early) return this.#failBeforeSocket(this.#early);
    const choice = await chooseServerKey(
      {
        ...(this.opts.serverKemKeys ? { appKeys: this.opts.serverKemKeys } : {}),
        ...(this.#pins ? { pins: this.#pins } : {}),
        documentUrl: this.opts.wellKnownUrl ?? wellKnownUrlFor(this.#base),
        fetch: this.opts.fetch ?? ((input, init) => globalThis.fetch(input, init)),
        cache: this.opts.keyCache ?? defaultServerKeyCache,
        algorithms: KEM_ALGORITHMS,
        nowMs: this.#now(),
      },
      refresh,
    );
    if (this.#closed) return;
    if (choice.type === 'none') {
      if (this.mayFallBack && !refresh) return this.host.fallbackToV1();
      return this.#failBeforeSocket({ closeCode: CloseCode.Upstream, message: 'the proxy serves no volly-pq.v2 keys', code: 'ERR_V2_DOCUMENT' });
    }
    if (choice.type === 'failed') return this.#failBeforeSocket(choice.failure);
    this.#key = choice.key;
    this.#from = choice.from;
    this.#attempt(undefined);
  }

  #attempt(clockOffsetMs: number | undefined): void {
    const key = this.#key as ServerStaticKey;
    const client = new ClientV2({
      kem: this.opts.getKem(key.algorithm),
      aead: this.opts.aead,
      serverKey: key,
      connect: this.#connect,
      now: this.#now,
      randomBytes: this.opts.randomBytes,
      ...(clockOffsetMs === undefined ? {} : { clockOffsetMs }),
      ...(this.#bound ? { bound: this.#bound } : {}),
    });
    let flight: ReturnType<ClientV2['start']>;
    try {
      flight = client.start();
    } catch (err) {
      const e = err instanceof VollyError ? err : undefined;
      this.#failBeforeSocket({
        closeCode: e?.closeCode ?? CloseCode.Malformed,
        message: e?.message ?? 'first flight failed',
        ...(e ? { code: e.code } : {}),
      });
      return;
    }
    this.#client = client;
    this.#sessionId = flight.sessionId;
    this.#th2 = undefined;
    this.#opened = false;
    let inner: WebSocket;
    try {
      inner = new this.opts.WebSocket(`${this.#base}?${flight.query}`, [...flight.protocols]);
    } catch {
      // This runs after the constructor returned: a throw here would be an unhandled rejection.
      client.closed(1006);
      this.#failBeforeSocket({ closeCode: CloseCode.Upstream, message: 'the WebSocket could not be created' });
      return;
    }
    this.#inner = inner;
    inner.binaryType = 'arraybuffer';
    inner.onopen = () => {
      this.#opened = true;
      this.#apply(client.accepted(inner.protocol));
    };
    inner.onmessage = (ev: MessageEvent) => {
      if (ev.data instanceof ArrayBuffer) {
        this.#openedFrames++;
        this.#apply(client.receive(new Uint8Array(ev.data)));
      } else this.#onFailed({ closeCode: CloseCode.Malformed, message: 'text frame on a sealed session' });
    };
    inner.onclose = (ev: CloseEvent) => this.#onInnerClose(inner, client, ev);
  }

  #apply(outputs: ClientV2Output[]): void {
    for (const out of outputs) {
      if (out.type === 'send') {
        (this.#inner as WebSocket).send(out.frame);
        this.#sealed++;
      } else if (out.type === 'keyed') this.#th2 = out.transcriptHash;
      else if (out.type === 'message') this.host.deliver(out.kind, out.payload);
      else this.#onFailed(out.failure);
    }
    // `keyed` with a frame sent is the key confirmation: LiveKit frames may follow (a refused bound session sends none).
    if (outputs.some((o) => o.type === 'keyed') && outputs.some((o) => o.type === 'send')) this.host.sendable?.();
  }

  /** A failure: retried once per kind when the hint allows, else recorded and the inner socket closed. */
  #onFailed(failure: ClientV2Failure): void {
    const retry = this.#closed ? undefined : failure.retry;
    if (retry?.kind === 'clock' && !this.#clockRetried) {
      this.#clockRetried = true;
      this.#retry(() => this.#attempt(retry.clockOffsetMs));
      return;
    }
    if (retry?.kind === 'refetch-keys' && !this.#refetched && this.#from === 'document') {
      this.#refetched = true;
      this.#retry(() => void this.#begin(true));
      return;
    }
    const { retry: _, ...plain } = failure;
    this.#failure = plain;
    this.host.failed(plain);
    const inner = this.#inner as WebSocket;
    const close = () => inner.close(clientCloseCode(plain.closeCode), closeReason(plain.message));
    if (inner.readyState !== 1) return;
    // What the client found itself (a frame that does not open, a bad ServerHello) ends
    // the socket at once: whoever answered may never close. After a sealed refusal the
    // proxy closes with its own code; close ourselves only if it does not.
    if (plain.code !== undefined && plain.code !== 'ERR_V2_STALE') close();
    else this.#failTimer = setTimeout(close, 1000);
  }

  /** Leaves the current inner socket without a trace in the application's events, then runs `next`. */
  #retry(next: () => void): void {
    this.#retries++;
    clearTimeout(this.#failTimer);
    const old = this.#inner as WebSocket;
    old.onopen = old.onmessage = old.onclose = null;
    if (old.readyState <= 1) old.close(1000);
    this.#inner = undefined;
    next();
  }

  #onInnerClose(inner: WebSocket, client: ClientV2, ev: CloseEvent): void {
    if (inner !== this.#inner) return;
    clearTimeout(this.#failTimer);
    if (!this.#failure && !this.#closed) {
      if (!this.#opened) {
        client.closed(ev.code);
        // Recorded, not reported: the validate shim then answers with a network error, as for v1.
        this.#failure = { closeCode: CloseCode.Upstream, message: 'proxy unreachable' };
        this.host.failed(this.#failure, false);
      } else if (client.state === 'open') client.closed(ev.code);
      else this.#apply(client.closed(ev.code, ev.reason));
      if (inner !== this.#inner) return;
    } else client.closed(1000);
    this.host.finished({ code: ev.code, reason: ev.reason, wasClean: ev.wasClean });
  }

  #failBeforeSocket(failure: SessionFailure): void {
    this.#failure = failure;
    this.host.failed(failure);
    this.host.finished({ code: failure.closeCode, reason: '', wasClean: false });
  }
}
