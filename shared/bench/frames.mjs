// Per-frame cost of the sealed relay's crypto: seal and open of one 300-byte
// LiveKit frame through FrameSealer / FrameOpener (the relay's calls, checks
// included) for each AEAD backend, and `open in place` (into the received
// buffer, no allocation) where the build has it. Frames are sealed before
// each timed round (they carry the counter). Give several built dist
// directories to compare builds (rounds interleaved in one process):
//   npm run build && npm exec -- node shared/bench/frames.mjs [--rounds=15] [DIST ...]
import { distDirs, header, interleaved, load, row } from './lib.mjs';

const dirs = distDirs(new URL('../dist', import.meta.url).pathname);
const FRAME = 300;
const N = 5000;

const builds = await Promise.all(
  dirs.map(async (dir) => {
    const [backend, frame] = await Promise.all([load(dir, 'backend/node.js'), load(dir, 'frame.js')]);
    return { ...backend, ...frame };
  }),
);
const key = builds[0].randomBytes(32);
const plaintext = builds[0].randomBytes(FRAME);

function variants(b, aead) {
  const { FrameKind, FrameOpener, FrameSealer } = b;
  const sealAll = () => {
    const sealer = new FrameSealer(key, aead);
    return Array.from({ length: N }, () => sealer.seal(FrameKind.LiveKitBinary, plaintext));
  };
  const openWith = (method) => ({
    prepare: () => ({ opener: new FrameOpener(key, aead), frames: sealAll() }),
    run: ({ opener, frames }) => {
      for (let i = 0; i < N; i++) opener[method](frames[i]);
    },
  });
  return {
    seal: {
      prepare: () => new FrameSealer(key, aead),
      run: (sealer) => {
        for (let i = 0; i < N; i++) sealer.seal(FrameKind.LiveKitBinary, plaintext);
      },
    },
    open: openWith('open'),
    'open in place': typeof FrameOpener.prototype.openInPlace === 'function' ? openWith('openInPlace') : openWith('open'),
  };
}

console.log(`Node ${process.version}; ${FRAME}-byte frames, ${N} per round; µs per frame ('open in place' is 'open' where a build lacks it)`);
console.log(header(dirs, 24));
for (const backend of builds[0].aeadBackends()) {
  const perBuild = builds.map((b) => variants(b, b.getAead(backend)));
  for (const name of Object.keys(perBuild[0])) {
    console.log(
      row(
        `${backend} ${name}`,
        await interleaved(
          perBuild.map((v) => v[name]),
          N,
        ),
        24,
        2,
      ),
    );
  }
}
