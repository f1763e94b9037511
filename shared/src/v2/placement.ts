/**
 * Where the first flight travels in the WebSocket upgrade request
 * (docs/PROTOCOL.md, "Placement and sizes"):
 *
 *   GET <path>?volly_early=<b64url(early frame)> HTTP/1.1
 *   Sec-WebSocket-Protocol: volly-pq.v2, volly-pq.v2.<b64url(ClientHello)>
 *
 * and the size arithmetic that keeps both lines within one nginx header
 * buffer (MAX_HEADER_LINE). Browsers send offered subprotocols comma-joined
 * in one header line; base64url and '.' are RFC 7230 token characters.
 */
import { fromBase64Url, toBase64Url } from '../bytes.js';
import { FRAME_OVERHEAD } from '../frame.js';
import type { KemAlgorithm } from '../kem/types.js';
import { clientHelloLength } from './client-hello.js';
import { EARLY_PARAM, HELLO_PROTOCOL_PREFIX, MAX_HEADER_LINE, SUBPROTOCOL_V2 } from './constants.js';
import { V2Error } from './errors.js';

/** Length of unpadded base64url of n bytes. */
export const base64UrlLength = (n: number): number => Math.floor(n / 3) * 4 + [0, 2, 3][n % 3]!;

export interface FirstFlightSizes {
  readonly clientHello: number;
  readonly earlyFrame: number;
  /** `Sec-WebSocket-Protocol: volly-pq.v2, volly-pq.v2.<hello>` with its CRLF. */
  readonly protocolLine: number;
  /** `GET <path>?volly_early=<frame> HTTP/1.1` with its CRLF. */
  readonly requestLine: number;
}

const PROTOCOL_LINE_FIXED = `Sec-WebSocket-Protocol: ${SUBPROTOCOL_V2}, ${HELLO_PROTOCOL_PREFIX}\r\n`.length;
const REQUEST_LINE_FIXED = `GET ?${EARLY_PARAM}= HTTP/1.1\r\n`.length;

/** Sizes of a first flight from the algorithm, the URL path and the early plaintext length (ASCII path). */
export function firstFlightSizes(algorithm: KemAlgorithm, urlPath: string, earlyPlaintextLength: number): FirstFlightSizes {
  const clientHello = clientHelloLength(algorithm);
  const earlyFrame = FRAME_OVERHEAD + earlyPlaintextLength;
  return {
    clientHello,
    earlyFrame,
    protocolLine: PROTOCOL_LINE_FIXED + base64UrlLength(clientHello),
    requestLine: REQUEST_LINE_FIXED + urlPath.length + base64UrlLength(earlyFrame),
  };
}

/** Throws ERR_V2_TOO_LARGE when a line would exceed `limit`: the client fails before sending anything. */
export function checkFirstFlightSizes(s: FirstFlightSizes, limit = MAX_HEADER_LINE): void {
  if (s.requestLine > limit)
    throw new V2Error('ERR_V2_TOO_LARGE', `request line of ${s.requestLine} bytes exceeds ${limit} (token and query too long for one upgrade request)`);
  if (s.protocolLine > limit) throw new V2Error('ERR_V2_TOO_LARGE', `Sec-WebSocket-Protocol line of ${s.protocolLine} bytes exceeds ${limit}`);
}

/** What the client passes to `new WebSocket(url + '?' + query, protocols)`. */
export interface FirstFlightPlacement {
  readonly protocols: readonly [string, string];
  readonly query: string;
}

export function placeFirstFlight(clientHello: Uint8Array, earlyFrame: Uint8Array): FirstFlightPlacement {
  return { protocols: [SUBPROTOCOL_V2, `${HELLO_PROTOCOL_PREFIX}${toBase64Url(clientHello)}`], query: `${EARLY_PARAM}=${toBase64Url(earlyFrame)}` };
}

/** True when the offered subprotocols ask for v2 (the server then selects plain `volly-pq.v2`). */
export const offersV2 = (protocols: readonly string[]): boolean => protocols.includes(SUBPROTOCOL_V2);

/**
 * Server side: the ClientHello and early frame bytes from the offered
 * subprotocols and the URL query (without '?'). Exactly one hello protocol,
 * plain `volly-pq.v2` offered too, and `volly_early` the only parameter.
 */
export function readFirstFlight(protocols: readonly string[], query: string): { clientHello: Uint8Array; earlyFrame: Uint8Array } {
  const fail = (m: string): never => {
    throw new V2Error('ERR_V2_HELLO', m);
  };
  if (!offersV2(protocols)) fail(`${SUBPROTOCOL_V2} not offered`);
  const hellos = protocols.filter((p) => p.startsWith(HELLO_PROTOCOL_PREFIX));
  if (hellos.length !== 1) fail(`expected one ${HELLO_PROTOCOL_PREFIX}<hello> subprotocol, got ${hellos.length}`);
  const clientHello = fromBase64Url((hellos[0] as string).slice(HELLO_PROTOCOL_PREFIX.length)) ?? fail('ClientHello is not base64url');
  const prefix = `${EARLY_PARAM}=`;
  if (!query.startsWith(prefix) || query.includes('&')) fail(`the URL query must be exactly ${EARLY_PARAM}=<frame>`);
  const earlyFrame = fromBase64Url(query.slice(prefix.length)) ?? fail('early frame is not base64url');
  if (earlyFrame.length < FRAME_OVERHEAD) fail('early frame is too short');
  return { clientHello, earlyFrame };
}
