// Cost of the authorize stage's JWT work on the built proxy: verify a client
// token, sign its upstream copy (downgrade), both, and the refresh path
// (clientFacing: verify LiveKit's token + sign the client-facing one). Tight
// loop, awaited one by one as the proxy does. Give several built proxy dist
// directories to compare builds (rounds interleaved in one process):
//   npm run build && npm exec -- node proxy/bench/authorize.mjs [--rounds=15] [DIST ...]
import { AccessToken } from 'livekit-server-sdk';
import { distDirs, header, interleaved, load, row } from '../../shared/bench/lib.mjs';

const dirs = distDirs(new URL('../dist', import.meta.url).pathname);
const N = 2000;
const CLIENT = { key: 'APIclient', secret: 'c'.repeat(40) };
const UPSTREAM = { key: 'APIupstream', secret: 'u'.repeat(40) };

const token = async (key, secret) => {
  const at = new AccessToken(key, secret, { identity: 'alice', name: 'Alice', metadata: 'm', ttl: '10m' });
  at.addGrant({ roomJoin: true, room: 'r1', canPublish: true });
  return at.toJwt();
};
const client = await token(CLIENT.key, CLIENT.secret);
const upstream = await token(UPSTREAM.key, UPSTREAM.secret);

const builds = await Promise.all(
  dirs.map(async (dir) => {
    const { Authorizer } = await load(dir, 'authorize.js');
    const auth = new Authorizer({ keys: new Map([[CLIENT.key, CLIENT.secret]]), upstream: UPSTREAM, limits: { tokenLeewaySeconds: 10 } });
    const grant = await auth.verify(client);
    const loop = (fn) => async () => {
      for (let i = 0; i < N; i++) await fn();
    };
    return {
      'verify (client token)': loop(() => auth.verify(client)),
      'sign (downgrade)': loop(() => auth.downgrade(grant)),
      'verify + sign (authorize stage)': loop(async () => auth.downgrade(await auth.verify(client))),
      'clientFacing (verify LiveKit token + sign)': loop(() => auth.clientFacing(upstream, grant)),
    };
  }),
);
console.log(`Node ${process.version}; ${N} calls per round; µs per call`);
console.log(header(dirs, 44));
for (const name of Object.keys(builds[0])) {
  console.log(
    row(
      name,
      await interleaved(
        builds.map((b) => ({ run: b[name] })),
        N,
      ),
      44,
    ),
  );
}
