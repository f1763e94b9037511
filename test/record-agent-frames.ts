// Records real LiveKit agent-worker frames for the proxy's single-module unit
// tests of the job-assignment rewrite (proxy/test/agent-assignment.test.ts):
// a hand-rolled worker registers on the stock server's /agent, is dispatched
// into a room, accepts, and gets its JobAssignment; once in binary, once in
// protobuf JSON. Written with the throwaway upstream key the job tokens were
// signed with and the recording time.
//
//   node test/record-agent-frames.ts > proxy/test/fixtures/agent-frames.json

import { AccessToken, AgentDispatchClient } from 'livekit-server-sdk';
import WebSocket from 'ws';
import { startRawWorker } from './clients/agents-raw-worker.ts';
import { startLiveKit } from './harness/livekit.ts';

const livekit = await startLiveKit({ logLevel: 'warn' });
try {
  const dispatch = new AgentDispatchClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  const frames: Record<string, string> = {};
  for (const json of [false, true]) {
    const at = new AccessToken(livekit.apiKey, livekit.apiSecret, { ttl: '10m' });
    at.addGrant({ agent: true });
    const ws = new WebSocket(`${livekit.wsUrl}/agent`, { headers: { authorization: `Bearer ${await at.toJwt()}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const name = json ? 'recorder-json' : 'recorder';
    const worker = startRawWorker(ws, name, { json });
    ws.on('message', (data: Buffer, isBinary) => worker.onMessage(isBinary ? new Uint8Array(data) : data.toString('utf8')));
    await worker.waitFor('register');
    await dispatch.createDispatch(`recorded-${name}`, name);
    await worker.waitFor('assignment');
    for (const r of worker.received) {
      const key = `${json ? 'json' : 'binary'}:${r.message.message.case ?? 'unknown'}`;
      if (!(key in frames)) frames[key] = typeof r.raw === 'string' ? r.raw : Buffer.from(r.raw).toString('hex');
    }
    ws.close(1000);
  }
  process.stdout.write(
    `${JSON.stringify({ note: 'Agent worker frames recorded from livekit-server v1.13.5 by test/record-agent-frames.ts; the key is a throwaway test key.', recordedAt: new Date().toISOString(), upstream: { key: livekit.apiKey, secret: livekit.apiSecret }, frames }, null, 2)}\n`,
  );
} finally {
  await livekit.stop();
}
