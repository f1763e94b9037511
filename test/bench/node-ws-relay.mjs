// The floor of any Node.js WebSocket relay: the least a relay built on `ws`
// can do per frame — no auth, no metrics, no timers, no backpressure, no
// sealing. The relay scenario runs it as the target "node-ws" so the proxy's
// cost can be split into what Node.js + ws cost anyway and what the proxy adds.
//
//   node test/bench/node-ws-relay.mjs PORT ws://127.0.0.1:LIVEKIT_PORT
import { createServer } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';

const [port, upstream] = [Number(process.argv[2]), process.argv[3]];
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
const server = createServer((_req, res) => res.writeHead(200).end('ok\n'));
server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  const up = new WebSocket(upstream + req.url, { perMessageDeflate: false });
  const early = [];
  const buffer = (d, b) => early.push([d, b]);
  up.on('message', buffer);
  up.on('error', () => socket.destroy());
  up.once('open', () =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      up.off('message', buffer);
      for (const [d, b] of early) ws.send(d, { binary: b });
      up.on('message', (d, b) => ws.send(d, { binary: b }));
      ws.on('message', (d, b) => up.send(d, { binary: b }));
      ws.on('close', () => up.close());
      up.on('close', () => ws.close());
      ws.on('error', () => {});
    }),
  );
});
server.listen(port, '127.0.0.1');
// A normal exit on SIGTERM, so a relay run with --cpu-prof writes its profile.
process.once('SIGTERM', () => process.exit(0));
