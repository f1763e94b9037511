// A minimal real WHIP offer (RFC 9725): one send-only Opus track, as a
// browser's RTCPeerConnection would write it. LiveKit parses it and answers
// 201 with its SDP; no media is ever sent (the ICE credentials are made up).
export const WHIP_OFFER = [
  'v=0',
  'o=- 4215775240449105457 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=msid-semantic: WMS volly',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:vOlL',
  'a=ice-pwd:volly0whip0offer0password0x',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 E9:B1:BF:44:D2:85:F1:B6:3B:E1:9F:56:64:1C:05:BE:76:63:32:95:80:BD:82:AC:8C:8D:93:CC:B8:38:4F:97',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendonly',
  'a=msid:volly mic',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=ssrc:1001 cname:volly',
  '',
].join('\r\n');
