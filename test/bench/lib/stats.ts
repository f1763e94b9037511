// Order statistics for the benchmark: quantiles by linear interpolation,
// and "median over rounds with its spread" as one value.

/** Quantile q in [0, 1] of `xs` (not necessarily sorted); NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return a + (b - a) * (pos - lo);
}

export const median = (xs: readonly number[]): number => quantile(xs, 0.5);
export const p99 = (xs: readonly number[]): number => quantile(xs, 0.99);
export const mean = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

/** A figure measured once per round: the median over the rounds, and the range they spanned. */
export interface Figure {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** One value per round, in round order. */
  readonly rounds: number[];
}

export function figure(rounds: readonly number[]): Figure {
  const finite = rounds.filter((x) => Number.isFinite(x));
  return {
    median: median(finite),
    min: finite.length ? Math.min(...finite) : Number.NaN,
    max: finite.length ? Math.max(...finite) : Number.NaN,
    rounds: [...rounds],
  };
}

/** Per-round ratio a/b (rounds paired by index), as a Figure. */
export function ratioFigure(a: Figure, b: Figure): Figure {
  const n = Math.min(a.rounds.length, b.rounds.length);
  const r: number[] = [];
  for (let i = 0; i < n; i++) r.push((a.rounds[i] as number) / (b.rounds[i] as number));
  return figure(r);
}

/** Least-squares slope and intercept of y over x, and R². */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number; r2: number } {
  const n = xs.length;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}
