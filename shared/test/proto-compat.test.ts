/**
 * Field 100 of VollySignalRequest / VollySignalResponse is unknown to
 * LiveKit's SignalRequest / SignalResponse (@livekit/protocol): a handshake
 * frame parses there as a message with no known field set, never as a real
 * LiveKit request or response; and no LiveKit message parses as ours.
 */
import { Ping, SessionDescription, SignalRequest, SignalResponse } from '@livekit/protocol';
import { describe, expect, test } from 'vitest';
import { ProtocolError } from '../src/errors.js';
import { decodeHandshake, decodeResponse, encodeHandshake, encodeResponse } from '../src/messages.js';

const SID = 'compat-session-id-000000';
const handshake = encodeHandshake({ algorithm: 'X-Wing', publicKey: new Uint8Array(1216).fill(0x42), sessionId: SID });
const response = encodeResponse({ success: true, algorithm: 'X-Wing', sessionId: SID, ciphertext: new Uint8Array(1120).fill(0x24) });
const refusal = encodeResponse({ success: false, error: 'KEM algorithm X-Wing is not allowed here' });

const unknownFields = (m: SignalRequest | SignalResponse) => m.getType().runtime.bin.listUnknownFields(m);

describe('volly frames as LiveKit sees them', () => {
  test('VollySignalRequest{pq_handshake} is a SignalRequest with no message and one unknown field 100', () => {
    const req = SignalRequest.fromBinary(handshake);
    expect(req.message.case).toBeUndefined();
    expect(unknownFields(req).map((f) => f.no)).toEqual([100]);
    // The unknown field round-trips byte for byte through LiveKit's type.
    expect(req.toBinary()).toEqual(handshake);
  });

  test.each([
    ['successful', response],
    ['refused', refusal],
  ])('%s VollySignalResponse{pq_response} is a SignalResponse with no message and one unknown field 100', (_, bytes) => {
    const res = SignalResponse.fromBinary(bytes);
    expect(res.message.case).toBeUndefined();
    expect(unknownFields(res).map((f) => f.no)).toEqual([100]);
  });

  test('LiveKit defines no field 100 on either message', () => {
    expect(SignalRequest.fields.find(100)).toBeUndefined();
    expect(SignalResponse.fields.find(100)).toBeUndefined();
  });
});

describe('LiveKit frames as volly sees them', () => {
  test('a SignalRequest is not a pq_handshake', () => {
    const offer = new SignalRequest({ message: { case: 'offer', value: new SessionDescription({ type: 'offer', sdp: 'v=0\r\n' }) } }).toBinary();
    const ping = new SignalRequest({ message: { case: 'pingReq', value: new Ping({ timestamp: 1n, rtt: 2n }) } }).toBinary();
    for (const bytes of [offer, ping]) expect(() => decodeHandshake(bytes)).toThrow(ProtocolError);
  });

  test('a SignalResponse is not a pq_response', () => {
    const answer = new SignalResponse({ message: { case: 'answer', value: new SessionDescription({ type: 'answer', sdp: 'v=0\r\n' }) } }).toBinary();
    const refresh = new SignalResponse({ message: { case: 'refreshToken', value: 'eyJ.x.y' } }).toBinary();
    for (const bytes of [answer, refresh]) expect(() => decodeResponse(bytes)).toThrow(ProtocolError);
  });
});
