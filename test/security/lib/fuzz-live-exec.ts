// One input of a class: what is sent (an upgrade, a token, a first frame, a
// VollyConnect, a sealed frame after the join) and how its connection ended.

import { SignalRequest } from '@livekit/protocol';
import { FrameKind, SUBPROTOCOL } from '@volly/shared';
import { signalUrl } from '../../harness/signal.ts';
import { attackFrames, claimsMutation, type InputContext, postJoin } from './fuzz-live-attacks.ts';
import { dial, handshake, keyedSession, observePre, observeSealed } from './fuzz-live-session.ts';
import type { FuzzClass, InputResult } from './fuzz-live-types.ts';
import { equal, mutate, mutateToken, type Prng } from './mutate.ts';

export async function runInput(ctx: InputContext, cls: FuzzClass, r: Prng, note: (d: string) => void): Promise<InputResult> {
  const t = ctx.t;
  const px = t.proxy;
  switch (cls) {
    case 'upgrade': {
      const path = r.pick([
        '/rtc',
        '/rtc/v1',
        '/rtc/',
        '/RTC',
        '/x/rtc',
        '/rtc%2f',
        '//rtc',
        '/rtc/v2',
        '/rtc/validate',
        '/',
        '/twirp/rtc',
        '/rtc/v1/',
        '/rtc?x=1',
      ]);
      const proto = r.pick<string | undefined>([
        undefined,
        SUBPROTOCOL,
        `x, ${SUBPROTOCOL}`,
        `${SUBPROTOCOL}, ${SUBPROTOCOL}`,
        ` ${SUBPROTOCOL} `,
        `${SUBPROTOCOL},`,
        'volly-pq.v2',
        'VOLLY-PQ.V1',
        `${SUBPROTOCOL}x`,
        'livekit',
        '',
        ',,,',
      ]);
      const pq = (proto ?? '')
        .split(',')
        .map((x) => x.trim())
        .includes(SUBPROTOCOL);
      // a classical upgrade never carries a token that could join (that would be honest traffic, not an attack)
      const token = r.chance(0.5)
        ? ''
        : r.pick(
            pq ? [t.victimToken, t.bound['ML-KEM-768'].token, mutateToken(t.victimToken, r)] : [t.bound['ML-KEM-768'].token, claimsMutation(t.victimToken, r)],
          );
      const url = `${path}${token ? `${path.includes('?') ? '&' : '?'}access_token=${token}` : ''}`;
      note(`${path} ${JSON.stringify(proto)} token=${token ? token.slice(-12) : 'none'}`);
      const o = await dial(px, url, proto);
      if (!o.ok) return { outcome: o.outcome };
      if (!pq) {
        o.conn.destroy();
        return { outcome: 'classical upgrade accepted', leak: 'classical session opened with a token that must fail' };
      }
      return observePre(o.conn);
    }
    case 'classical-token': {
      // PQ-bound tokens (valid or mutated: a mutation that still verifies keeps the PQ claims),
      // mutations of the unbound token that change its signed part, or generated tokens
      const spec = r.chance(0.3)
        ? { token: r.pick([t.bound['ML-KEM-768'].token, t.bound['X-Wing'].token]), mayVerify: false }
        : r.chance(0.5)
          ? { token: r.chance(0.5) ? mutateToken(t.bound['X-Wing'].token, r) : claimsMutation(t.victimToken, r), mayVerify: false }
          : ctx.gen.token.next();
      // a generated token that may verify would be honest classical traffic: send a PQ-bound one instead
      const sent = spec.mayVerify ? t.bound['X-Wing'].token : spec.token;
      note(`token ${sent.slice(0, 80)}… (${sent.length})`);
      // a Bearer header only for tokens that are valid header text (others would break our own request framing)
      const inHeader = r.chance(0.2) && /^[\x21-\x7e]*$/.test(sent);
      const u = new URL(signalUrl(px.wsUrl, inHeader ? undefined : sent));
      const o = await dial(px, u.pathname + u.search, undefined, inHeader ? { headers: { authorization: `Bearer ${sent}` } } : {});
      if (!o.ok) return { outcome: o.outcome };
      o.conn.destroy();
      return { outcome: 'classical upgrade accepted', leak: 'classical session opened with a token that must fail' };
    }
    case 'token-url': {
      const spec = r.chance(0.4)
        ? { token: mutateToken(r.pick([t.bound['ML-KEM-768'].token, t.bound['X-Wing'].token]), r), mayVerify: false }
        : ctx.gen.token.next();
      note(`url token ${spec.token.slice(0, 120)}… (${spec.token.length})`);
      const o = await dial(px, `/rtc?access_token=${encodeURIComponent(spec.token)}`, SUBPROTOCOL);
      if (!o.ok) return { outcome: o.outcome };
      return observePre(o.conn);
    }
    case 'hello-mutated':
    case 'hello-generated': {
      let frames: Array<Uint8Array | string>;
      if (cls === 'hello-mutated') {
        const base = r.pick(t.seeds.handshakes);
        frames = [mutate(base, r, t.seeds.all)];
        if (r.chance(0.1)) frames.push(r.chance(0.5) ? r.pick(t.seeds.connects) : mutate(r.pick(t.seeds.all), r, t.seeds.all));
      } else {
        const kind = r.int(10);
        frames = [
          kind < 6 ? ctx.gen.hello.next() : kind < 8 ? ctx.gen.pb.next() : kind < 9 ? ctx.gen.huge.next() : r.chance(0.5) ? 'hello' : r.bytes(r.int(64)),
        ];
      }
      note(`frames ${frames.map((f) => (typeof f === 'string' ? JSON.stringify(f) : Buffer.from(f).toString('hex').slice(0, 300))).join(' | ')}`);
      // pipelined: the frames travel in the same write as the upgrade request
      const o = await dial(px, r.pick(['/rtc', '/rtc/v1']), SUBPROTOCOL, { early: frames });
      if (!o.ok) return { outcome: o.outcome };
      return observePre(o.conn);
    }
    case 'huge-frame': {
      const o = await dial(px, '/rtc', SUBPROTOCOL);
      if (!o.ok) return { outcome: o.outcome };
      if (r.chance(0.5)) {
        o.conn.send(new Uint8Array(px.maxFrameBytes + 1 + r.int(1000)));
        return observePre(o.conn);
      }
      const h = await handshake(t, o.conn, r);
      if ('outcome' in h) return h;
      h.conn.send(new Uint8Array(px.maxFrameBytes + 1 + r.int(1000)).fill(FrameKind.Control, 0, 1));
      return observeSealed(h, false);
    }
    case 'connect-mutated':
    case 'connect-attack':
    case 'connect-sealed-hostile': {
      const h = await keyedSession(t, r, cls === 'connect-sealed-hostile');
      if ('outcome' in h) return h;
      if (cls === 'connect-mutated') {
        const bad = mutate(h.genuine, r, [...t.seeds.all, h.genuine]);
        if (equal(bad, h.genuine)) throw new Error('mutation produced the genuine frame');
        note(`${h.desc}; mutated connect ${Buffer.from(bad).toString('hex').slice(0, 400)}`);
        h.conn.send(bad);
        return observeSealed(h, false);
      }
      if (cls === 'connect-attack') {
        const attack = r.int(11);
        const frames = attackFrames(t, h, attack, r);
        note(`${h.desc}; attack ${attack}`);
        for (const f of frames) h.conn.send(f);
        return observeSealed(h, false);
      }
      // sealed correctly, hostile inside: the proxy may open it; LiveKit judges what reaches it
      const k = r.int(10);
      let frame: Uint8Array;
      let mayDial = false;
      if (k < 7) {
        const c = ctx.gen.control.next();
        // token-bound, an empty connect token falls back to the (valid, fz-open) URL token
        mayDial = c.mayDial || (h.urlToken === true && c.emptyToken);
        frame = h.channel.sealer.seal(FrameKind.Control, c.plaintext);
        note(`${h.desc}; sealed control ${Buffer.from(c.plaintext).toString('hex').slice(0, 400)}`);
      } else {
        frame = h.channel.sealer.seal(
          r.chance(0.5) ? FrameKind.LiveKitBinary : FrameKind.LiveKitText,
          r.chance(0.5) ? ctx.gen.pb.next() : new SignalRequest({ message: { case: 'ping', value: 1n } }).toBinary(),
        );
        note(`${h.desc}; sealed LiveKit frame as first frame`);
      }
      h.conn.send(frame);
      const res = await observeSealed(h, true);
      // a dial for a token the generator built to fail: the proxy accepted something it should not
      if (res.dialed && !mayDial) return { ...res, outcome: `${res.outcome} with a token built to fail` };
      return res;
    }
    case 'post-join':
      return postJoin(ctx, r, note);
  }
}
