// Live fuzzing of the proxy's plain-HTTP side: generated (fuzz-http-gen.ts)
// and mutated (fuzz-http-mutate.ts) requests over raw TCP to the public and
// admin listeners of `volly-pq proxy` running as a child process in front of
// a real LiveKit. Each exchange is judged by fuzz-http-oracle.ts; over the run:
// the process must never exit (when it does, the crash is counted, the
// process restarted, and the recent inputs replayed, 16 at a time and then
// one by one, to name the one that kills it), honest canaries (a validate and a Twirp ListRooms)
// must keep working, and LiveKit must never see a fuzz identity.
// Used by fuzz-http.test.ts (short) and test/scripts/fuzz-http.ts (long runs).

import { readFileSync } from 'node:fs';
import { RoomServiceClient } from 'livekit-server-sdk';
import { keepFinding } from './findings.ts';
import type { HttpInput } from './fuzz-http-gen.ts';
import { Inputs } from './fuzz-http-inputs.ts';
import { type FindingKind, judge, routeOf, show } from './fuzz-http-oracle.ts';
import { bump, emptyStats, type HttpFuzzStats, lastWords } from './fuzz-http-stats.ts';
import { type HttpFuzzTarget, MUST_NOT_JOIN } from './fuzz-http-target.ts';
import { exchange } from './fuzz-http-wire.ts';

export type { HttpFinding, HttpFuzzStats } from './fuzz-http-stats.ts';
export { httpProblems } from './fuzz-http-stats.ts';

export interface HttpRunOptions {
  inputs: number;
  concurrency: number;
  seed: number;
  timeLimitMs: number;
  canaryEveryMs?: number;
  /** Stop after this many crashes (the run before a fix: evidence, not endurance). */
  maxCrashes?: number;
  progressEveryMs?: number;
  onProgress?: (s: { done: number; elapsedMs: number; findings: number; crashes: number }) => void;
  onFinding?: (f: HttpFuzzStats['findings'][number]) => void;
}

let addr = 0;
const localAddress = () => `127.0.0.${2 + (addr++ % 249)}`;

class HttpRunner {
  readonly stats: HttpFuzzStats = emptyStats();
  #index = 0;
  #epoch = 0;
  /** Resolved while the proxy is up; replaced by a pending one while it restarts. */
  #up: Promise<void> = Promise.resolve();
  #stop = false;
  #onStop!: () => void;
  readonly #stopped = new Promise<undefined>((r) => (this.#onStop = () => r(undefined)));
  readonly #recent: HttpInput[] = [];
  readonly #inputs: Inputs;

  private readonly t: HttpFuzzTarget;
  private readonly o: HttpRunOptions;
  constructor(t: HttpFuzzTarget, o: HttpRunOptions) {
    this.t = t;
    this.o = o;
    this.#inputs = new Inputs(t, o.seed);
  }

  #halt(): void {
    this.#stop = true;
    this.#onStop();
  }

  #finding(index: number, kind: FindingKind, outcome: string, detail: string): void {
    const f = { index, kind, outcome, detail };
    if (keepFinding(this.stats, f, 500)) this.o.onFinding?.(f);
  }

  async #one(i: number): Promise<void> {
    const { input, source } = this.#inputs.at(i);
    this.#recent.push(input);
    if (this.#recent.length > Math.max(256, 8 * this.o.concurrency)) this.#recent.shift();
    const epoch = this.#epoch;
    const ex = await exchange({
      host: this.t.host,
      port: input.listener === 'admin' ? this.t.adminPort : this.t.port,
      localAddress: localAddress(),
      data: input.bytes,
      method: input.method,
      halfClose: input.short,
      silenceMs: source === 'mutated' ? 1000 : 3000,
      timeoutMs: 10_000,
    });
    const s = this.stats;
    s.inputs++;
    bump(s.bySource, source);
    bump(s.byCred, input.cred);
    if (epoch !== this.#epoch || !this.t.proxy.proc.running()) {
      s.duringCrash++;
      return;
    }
    bump(s.byOutcome, ex.outcome);
    bump(s.latency, ex.ms < 100 ? '<100ms' : ex.ms < 1000 ? '<1s' : ex.ms < 3500 ? '<3.5s' : '>=3.5s');
    const route = routeOf(input);
    s.byRoute[route] ??= {};
    bump(s.byRoute[route], ex.outcome);
    let v = judge(input, ex, this.t.tokens, this.t.secrets);
    if (v?.kind === 'bound-accepted' && (await this.#twoXxWithoutToken(input))) {
      s.boundTwoXxAnyway++;
      v = undefined;
    }
    if (v) this.#finding(i, v.kind, ex.outcome, `${v.why}; ${input.listener} ${show(input.bytes)}`);
  }

  /**
   * The control for a bound token's 2xx: the same bytes with the token blanked (same length, so the
   * framing holds). LiveKit answers some requests with a 2xx whoever asks (GET on a WHIP resource:
   * 204); the token was accepted only if the request without it is refused.
   */
  async #twoXxWithoutToken(input: HttpInput): Promise<boolean> {
    let text = input.bytes.toString('latin1');
    for (const b of this.t.tokens.bound) text = text.split(b).join('x'.repeat(b.length));
    const ex = await exchange({ host: this.t.host, port: this.t.port, data: Buffer.from(text, 'latin1'), method: input.method, halfClose: input.short });
    return ex.status !== null && ex.status >= 200 && ex.status < 300;
  }

  /** Waits for the process to exit; counts it, restarts it, and names the input that does it. */
  async #watch(): Promise<void> {
    while (!this.#stop) {
      const exit = await Promise.race([this.t.proxy.proc.exited, this.#stopped]);
      if (!exit) return;
      this.#epoch++;
      let release!: () => void;
      this.#up = new Promise((r) => (release = r));
      this.stats.crashes++;
      const candidates = [...this.#recent];
      const words = lastWords(this.t.proxy.logFile);
      await this.t.proxy.restart();
      const culprit = await this.#replay(candidates, words);
      const detail = `exit ${exit.code ?? exit.signal}; ${words}; ${culprit ? `replayed alone, this input kills it: ${show(culprit.bytes)}` : `none of ${candidates.length} recent inputs kills it alone`}`;
      this.stats.crashDetails.push(detail);
      this.#finding(-1, 'crash', `exit ${exit.code ?? exit.signal}`, detail);
      this.#epoch++;
      release();
      if (this.stats.crashes >= (this.o.maxCrashes ?? Number.POSITIVE_INFINITY)) this.#halt();
    }
  }

  /**
   * Replays inputs against the restarted proxy, 16 at a time and then one by one within the batch
   * that kills it, until one makes it exit with the same last words (another input may crash it
   * differently: that one is not this crash's cause).
   */
  async #replay(candidates: HttpInput[], words: string): Promise<HttpInput | undefined> {
    const send = (c: HttpInput) =>
      exchange({
        host: this.t.host,
        port: c.listener === 'admin' ? this.t.adminPort : this.t.port,
        data: c.bytes,
        method: c.method,
        halfClose: c.short,
        silenceMs: 300,
        timeoutMs: 1500,
      });
    const kills = async (batch: HttpInput[]): Promise<'same' | 'other' | false> => {
      await Promise.all(batch.map(send));
      await Promise.race([this.t.proxy.proc.exited, new Promise((r) => setTimeout(r, 150))]);
      if (this.t.proxy.proc.running()) return false;
      const same = lastWords(this.t.proxy.logFile) === words;
      await this.t.proxy.restart();
      return same ? 'same' : 'other';
    };
    const order = [...candidates].reverse();
    for (let i = 0; i < order.length; i += 16) {
      const batch = order.slice(i, i + 16);
      if (!(await kills(batch))) continue;
      for (const c of batch) if ((await kills([c])) === 'same') return c;
    }
    return undefined;
  }

  async #canary(n: number): Promise<void> {
    await this.#up;
    const epoch = this.#epoch;
    const t0 = performance.now();
    try {
      if (n % 2 === 0) {
        const res = await fetch(`${this.t.url}/rtc/validate?access_token=${this.t.tokens.join}`, { signal: AbortSignal.timeout(10_000) });
        if (res.status !== 200) throw new Error(`validate answered ${res.status}`);
        await res.arrayBuffer();
      } else {
        await new RoomServiceClient(this.t.url, this.t.proxy.apiKey, this.t.proxy.apiSecret).listRooms();
      }
      this.stats.canaries.ok++;
      this.stats.canaries.maxMs = Math.max(this.stats.canaries.maxMs, performance.now() - t0);
    } catch (err) {
      // the proxy went down under it: a crash, counted as one (the exit may be noticed a moment later)
      await new Promise((r) => setTimeout(r, 500));
      if (epoch !== this.#epoch || !this.t.proxy.proc.running()) return;
      this.stats.canaries.failed++;
      if (this.stats.canaries.failures.length < 20)
        this.stats.canaries.failures.push(`${n % 2 ? 'ListRooms' : 'validate'}: ${(err as Error).message.slice(0, 120)}`);
      this.#finding(-1, 'canary', 'failed', (err as Error).message.slice(0, 200));
    }
  }

  /** LiveKit asked directly: no participant with a fuzz identity in any room, and no log line naming one as a participant. */
  async #checkLiveKit(): Promise<void> {
    const lk = this.t.livekit;
    const rs = new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);
    for (const room of await rs.listRooms())
      for (const p of await rs.listParticipants(room.name))
        if ((MUST_NOT_JOIN as readonly string[]).includes(p.identity) && !this.stats.liveKit.participants.includes(`${room.name}/${p.identity}`)) {
          this.stats.liveKit.participants.push(`${room.name}/${p.identity}`);
          this.#finding(-1, 'participant', 'joined', `LiveKit lists ${p.identity} in room ${room.name}`);
        }
  }

  async run(): Promise<HttpFuzzStats> {
    const started = performance.now();
    const deadline = started + this.o.timeLimitMs;
    const watch = this.#watch();
    const canaries = (async () => {
      for (let n = 0; !this.#stop; n++) {
        await this.#canary(n);
        if (n % 10 === 9) await this.#checkLiveKit().catch(() => undefined);
        await new Promise((r) => setTimeout(r, this.o.canaryEveryMs ?? 1000));
      }
    })();
    const progress = setInterval(
      () =>
        this.o.onProgress?.({
          done: this.stats.inputs,
          elapsedMs: performance.now() - started,
          findings: this.stats.findingCount,
          crashes: this.stats.crashes,
        }),
      this.o.progressEveryMs ?? 10_000,
    );
    const lane = async () => {
      for (;;) {
        await this.#up;
        const i = this.#index++;
        if (this.#stop || i >= this.o.inputs || performance.now() > deadline) return;
        await this.#one(i);
      }
    };
    await Promise.all(Array.from({ length: this.o.concurrency }, lane));
    this.stats.durationMs = performance.now() - started;
    clearInterval(progress);
    await this.#up;
    this.#halt();
    await Promise.all([watch, canaries]);
    await this.#canary(0);
    await this.#canary(1);
    await this.#checkLiveKit();
    // sessions only: a Twirp call naming a fuzz identity in its body (GetParticipant, refused) is logged too
    const named = readFileSync(this.t.livekit.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('starting RTC session') && MUST_NOT_JOIN.some((id) => l.includes(`"participant": "${id}"`)));
    this.stats.liveKit.logLines = named.length;
    if (named.length) this.#finding(-1, 'participant', 'in LiveKit log', named[0]?.slice(0, 300) ?? '');
    return this.stats;
  }
}

export function runHttpFuzz(t: HttpFuzzTarget, o: HttpRunOptions): Promise<HttpFuzzStats> {
  return new HttpRunner(t, o).run();
}
