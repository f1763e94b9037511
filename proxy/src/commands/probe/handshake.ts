/**
 * One probe session's protocol, behind the interface the socket driver
 * (run.ts) needs: where to dial, what to do on open, on each frame and on
 * close, and how to seal a LiveKit message. v1 runs shared's ClientSession,
 * v2 its ClientV2; both report the same steps.
 */
import {
  type ClientMode,
  ClientSession,
  type FrameKind,
  fingerprint,
  getAead,
  getKem,
  getSigner,
  type KemAlgorithm,
  type KemKeyPair,
  newSessionId,
  randomBytes,
  SERVER_KEY_ALGORITHM,
  type ServerKey,
  type SessionFailure,
  SUBPROTOCOL,
  splitSignalUrl,
  toBase64Url,
  toHex,
  v2,
} from '@volly/shared';

export type Step =
  | { readonly type: 'send'; readonly frame: Uint8Array }
  | { readonly type: 'keyed'; readonly sessionId: string; readonly fingerprint: string; readonly signer?: ServerKey }
  | { readonly type: 'message'; readonly kind: typeof FrameKind.LiveKitBinary | typeof FrameKind.LiveKitText; readonly payload: Uint8Array }
  | { readonly type: 'failed'; readonly failure: SessionFailure };

export interface Handshake {
  readonly socketUrl: string;
  readonly protocols: string[];
  /** The socket opened with the server's chosen subprotocol. */
  opened(protocol: string): Step[];
  received(frame: Uint8Array): Step[];
  closed(code: number, reason: string): Step[];
  seal(payload: Uint8Array): Uint8Array;
  dispose(): void;
}

/** volly-pq.v1: in-band or token-bound; with `pins`, the proxy must sign the handshake with one of them. */
export function v1Handshake(o: {
  signalUrl: string;
  mode: ClientMode;
  kem: ReturnType<typeof getKem>;
  keyPair?: KemKeyPair;
  pins: readonly ServerKey[];
}): Handshake {
  const sessionId = newSessionId(randomBytes);
  const split = splitSignalUrl(o.signalUrl, o.mode, sessionId);
  const session = new ClientSession({
    kem: o.kem,
    aead: getAead(),
    mode: o.mode,
    ...(o.keyPair ? { keyPair: o.keyPair } : {}),
    accessToken: split.accessToken,
    query: split.query,
    sessionId,
    randomBytes,
    ...(o.pins.length ? { serverKeys: o.pins, signer: getSigner(SERVER_KEY_ALGORITHM) } : {}),
  });
  const steps = (outs: ReturnType<ClientSession['start']>): Step[] =>
    outs.map((out) =>
      out.type === 'keyed'
        ? {
            type: 'keyed',
            sessionId: out.result.sessionId,
            fingerprint: fingerprint(out.result),
            ...(out.result.serverKey ? { signer: out.result.serverKey } : {}),
          }
        : out,
    );
  return {
    socketUrl: split.socketUrl,
    protocols: [SUBPROTOCOL],
    opened: () => steps(session.start()),
    received: (frame) => steps(session.receive(frame)),
    closed: () => [],
    seal: (payload) => session.seal(payload),
    dispose: () => session.close(),
  };
}

/** volly-pq.v2: the first flight to `serverKey` rides on the upgrade; `bound` when the token names a key pair. */
export function v2Handshake(o: {
  signalUrl: string;
  serverKey: v2.ServerStaticKey;
  bound?: { readonly algorithm: KemAlgorithm; readonly keyPair: KemKeyPair };
}): Handshake {
  const u = new URL(o.signalUrl);
  const { query, accessToken } = splitSignalUrl(o.signalUrl, 'in-band');
  const client = new v2.ClientV2({
    kem: getKem(o.serverKey.algorithm),
    aead: getAead(),
    serverKey: o.serverKey,
    connect: { path: u.pathname, query, accessToken },
    now: Date.now,
    randomBytes,
    ...(o.bound ? { bound: { kem: getKem(o.bound.algorithm), keyPair: o.bound.keyPair } } : {}),
  });
  const flight = client.start();
  const steps = (outs: v2.ClientV2Output[]): Step[] =>
    outs.map((out) =>
      out.type === 'keyed' ? { type: 'keyed', sessionId: toBase64Url(flight.sessionId), fingerprint: toHex(out.transcriptHash.subarray(0, 8)) } : out,
    );
  return {
    socketUrl: `${u.protocol}//${u.host}${u.pathname}?${flight.query}`,
    protocols: [...flight.protocols],
    opened: (protocol) => steps(client.accepted(protocol)),
    received: (frame) => steps(client.receive(frame)),
    closed: (code, reason) => steps(client.closed(code, reason)),
    seal: (payload) => client.seal(payload),
    dispose: () => {},
  };
}
