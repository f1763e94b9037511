/** Shared fixtures of the v2-*.test.ts files: server keys, a client factory, and a realistic LiveKit join. */
import { getAead, getKem, type KemAlgorithm, type KemBackendName, randomBytes, v2 } from '../src/index.js';

/** A livekit-client /rtc/v1 query shape with a join_request of `joinBytes` protobuf bytes (base64, URL-encoded as the SDK does). */
export function livekitQuery(joinBytes: number): string {
  const join = encodeURIComponent(Buffer.from(randomBytes(joinBytes)).toString('base64'));
  return `auto_subscribe=1&sdk=js&version=2.15.8&protocol=16&adaptive_stream=1&join_request=${join}`;
}

/** A realistic ~600-byte LiveKit access token (HS256 JWT). */
export const TOKEN_600 = `eyJhbGciOiJIUzI1NiJ9.${'eyJ2aWRlbyI6eyJyb29tSm9pbiI6dHJ1ZSwicm9vbSI6InJvb20ifX0'.padEnd(520, 'A')}.${'s'.repeat(43)}`;

export function serverKeyPair(algorithm: KemAlgorithm, backend?: KemBackendName, seed?: Uint8Array, notAfter = 4_000_000_000): v2.ServerKeyPair {
  const kem = getKem(algorithm, backend);
  const { publicKey, secretKey } = kem.keygen(seed ?? randomBytes(kem.secretKeyLength));
  return { key: v2.staticKey(algorithm, publicKey, notAfter), secretKey };
}

export function serverOptions(keys: v2.ServerKeyPair[], now: () => number, backend?: KemBackendName): v2.ServerV2Options {
  return { keys, getKem: (a) => getKem(a, backend), aead: getAead(), now };
}

export const CONNECT = { path: '/rtc/v1', query: 'auto_subscribe=1&sdk=js&protocol=16', accessToken: TOKEN_600 };

export function client(serverKey: v2.ServerStaticKey, now: () => number, extra: Partial<v2.ClientV2Options> = {}, backend?: KemBackendName): v2.ClientV2 {
  return new v2.ClientV2({ kem: getKem(serverKey.algorithm, backend), aead: getAead(), serverKey, connect: CONNECT, now, randomBytes, ...extra });
}

/** The upgrade request's parts as a proxy reads them. */
export const input = (flight: v2.ClientFirstFlight, urlPath = CONNECT.path): v2.FirstFlightInput => ({
  protocols: flight.protocols,
  urlPath,
  query: flight.query,
});
