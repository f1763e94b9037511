/** Shared fixtures of the v2-*.test.ts files: server keys, a client factory, and a realistic LiveKit join. */
import { gzipSync } from 'node:zlib';
import {
  ClientInfo,
  ClientInfo_SDK,
  ConnectionSettings,
  JoinRequest,
  SessionDescription,
  WrappedJoinRequest,
  WrappedJoinRequest_Compression,
} from '@livekit/protocol';
import { getAead, getKem, type KemAlgorithm, type KemBackendName, randomBytes, v2 } from '../src/index.js';

/** A Chromium-like SDP offer: audio, video with Chromium's codec list, a data channel. */
export function chromiumOffer(): string {
  const ice =
    'a=ice-ufrag:Xk3f\r\na=ice-pwd:9vQ0pLrZ2sYxW1mN8bT4cD6e\r\na=ice-options:trickle\r\na=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF\r\na=setup:actpass\r\n';
  const video = [
    'VP8',
    'VP9 profile-id=0',
    'VP9 profile-id=2',
    'H264 profile-level-id=42001f',
    'H264 profile-level-id=42e01f',
    'H264 profile-level-id=4d001f',
    'H264 profile-level-id=64001f',
    'AV1',
    'H265',
  ];
  const videoLines = video.flatMap((codec, i) => {
    const [name, fmtp] = codec.split(' ');
    const pt = 96 + 2 * i;
    return [
      `a=rtpmap:${pt} ${name}/90000`,
      `a=rtcp-fb:${pt} goog-remb`,
      `a=rtcp-fb:${pt} transport-cc`,
      `a=rtcp-fb:${pt} ccm fir`,
      `a=rtcp-fb:${pt} nack`,
      `a=rtcp-fb:${pt} nack pli`,
      ...(fmtp ? [`a=fmtp:${pt} level-asymmetry-allowed=1;packetization-mode=1;${fmtp}`] : []),
      `a=rtpmap:${pt + 1} rtx/90000`,
      `a=fmtp:${pt + 1} apt=${pt}`,
    ];
  });
  return [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1 2',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `${ice}a=mid:0`,
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=sendrecv',
    'a=msid:- 3f1c2b0e-7d1a-4c5e-9b8f-2a6d4e0c1b3a',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=ssrc:1001 cname:b4k2Yc0d9Qe1Rf3S',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113',
    'c=IN IP4 0.0.0.0',
    `${ice}a=mid:1`,
    'a=extmap:14 urn:ietf:params:rtp-hdrext:toffset',
    'a=extmap:13 urn:3gpp:video-orientation',
    'a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
    'a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type',
    'a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing',
    'a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space',
    'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
    'a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
    'a=sendrecv',
    'a=msid:- 8e2d1f0a-5b3c-4a7e-8d9f-1c0b2a3e4d5f',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    ...videoLines,
    'a=ssrc-group:FID 2001 2002',
    'a=ssrc:2001 cname:b4k2Yc0d9Qe1Rf3S',
    'a=ssrc:2002 cname:b4k2Yc0d9Qe1Rf3S',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    `${ice}a=mid:2`,
    'a=sctp-port:5000',
    'a=max-message-size:262144',
    '',
  ].join('\r\n');
}

/**
 * The query a livekit-client /rtc/v1 join sends besides its token, built the
 * way the SDK builds it: JoinRequest{client_info, connection_settings,
 * publisher_offer}, gzip, WrappedJoinRequest, base64 with -_ (and '=' as %3D).
 */
export function livekitJoinQuery(offer = true): string {
  const join = new JoinRequest({
    clientInfo: new ClientInfo({
      sdk: ClientInfo_SDK.JS,
      version: '2.15.8',
      protocol: 16,
      os: 'Linux',
      osVersion: 'x86_64',
      browser: 'Chrome',
      browserVersion: '141.0.0.0',
    }),
    connectionSettings: new ConnectionSettings({ autoSubscribe: true, adaptiveStream: true }),
    ...(offer ? { publisherOffer: new SessionDescription({ type: 'offer', sdp: chromiumOffer(), id: 1 }) } : {}),
  });
  const wrapped = new WrappedJoinRequest({ joinRequest: gzipSync(join.toBinary()), compression: WrappedJoinRequest_Compression.GZIP }).toBinary();
  const b64 = Buffer.from(wrapped).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
  return new URLSearchParams({ join_request: b64 }).toString();
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

/** The tests' fixed clock: 2026-01-01T00:00:00Z, and a clock reading `t`. */
export const T0 = 1_767_225_600_000;
export const clock =
  (t = T0) =>
  (): number =>
    t;
/** Stands in for LiveKit's JoinResponse (any protobuf bytes). */
export const JOIN_RESPONSE = new Uint8Array([0x0a, 0x02, 0x08, 0x01]);
