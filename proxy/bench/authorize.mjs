// Cost of the authorize stage's JWT work on the built proxy: verify a client
// token, sign its downgraded copy (downgrade), and the refresh path
// (clientFacing: verify LiveKit's token + sign the client-facing one).
// Tight loop, sequential awaits as the proxy does them; prints µs per call
// (median of 15 rounds, and the best round). Run after `npm run build`:
//   npm exec -- node proxy/bench/authorize.mjs
import { AccessToken } from 'livekit-server-sdk';
import { Authorizer } from '../dist/index.js';

const CLIENT = { key: 'APIclient', secret: 'c'.repeat(40) };
const UPSTREAM = { key: 'APIupstream', secret: 'u'.repeat(40) };
const auth = new Authorizer({ keys: new Map([[CLIENT.key, CLIENT.secret]]), upstream: UPSTREAM, limits: { tokenLeewaySeconds: 10 } });

const token = async (key, secret) => {
  const at = new AccessToken(key, secret, { identity: 'alice', name: 'Alice', metadata: 'm', ttl: '10m' });
  at.addGrant({ roomJoin: true, room: 'r1', canPublish: true });
  return at.toJwt();
};
const client = await token(CLIENT.key, CLIENT.secret);
const upstream = await token(UPSTREAM.key, UPSTREAM.secret);
const grant = await auth.verify(client);

const ROUNDS = 15;
const N = 2000;
async function measure(fn) {
  for (let i = 0; i < 500; i++) await fn();
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await fn();
    rounds.push(Number(process.hrtime.bigint() - t0) / 1e3 / N);
  }
  rounds.sort((a, b) => a - b);
  return { median: rounds[ROUNDS >> 1], min: rounds[0] };
}

const rows = {
  'verify (client token)': () => auth.verify(client),
  'sign (downgrade)': () => auth.downgrade(grant),
  'verify + sign (authorize stage)': async () => auth.downgrade(await auth.verify(client)),
  'clientFacing (verify LiveKit token + sign)': () => auth.clientFacing(upstream, grant),
};
console.log(`Node ${process.version}; ${N} calls x ${ROUNDS} rounds; µs per call`);
for (const [name, fn] of Object.entries(rows)) {
  const { median, min } = await measure(fn);
  console.log(`${name.padEnd(44)} median ${median.toFixed(1).padStart(6)}  min ${min.toFixed(1).padStart(6)}`);
}
