// Records real LiveKit signaling frames for the proxy's single-module unit
// tests (the only place a stand-in for LiveKit is allowed): a JoinResponse, a
// refresh_token and an offer, straight from the stock server, with the
// throwaway upstream key they were signed with and the recording time.
//
//   node test/scripts/record-frames.ts > proxy/test/fixtures/livekit-frames.json

import { startLiveKit } from '../harness/livekit.ts';
import { connectSignal } from '../harness/signal.ts';
import { token } from '../harness/tokens.ts';

const livekit = await startLiveKit({ logLevel: 'warn' });
try {
  const sig = await connectSignal(livekit.wsUrl, await token(livekit, 'recorded-room', 'recorder'));
  await sig.waitFor('refreshToken');
  const frames: Record<string, string> = {};
  for (const m of sig.received) {
    const name = m.message.case ?? 'unknown';
    if (!(name in frames)) frames[name] = Buffer.from(m.toBinary()).toString('hex');
  }
  await sig.close();
  process.stdout.write(
    `${JSON.stringify({ note: 'Frames recorded from livekit-server v1.13.5 by test/scripts/record-frames.ts; the key is a throwaway test key.', recordedAt: new Date().toISOString(), upstream: { key: livekit.apiKey, secret: livekit.apiSecret }, frames }, null, 2)}\n`,
  );
} finally {
  await livekit.stop();
}
