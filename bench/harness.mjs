// A small timing helper for the benchmark sections.
//
// How a measurement works:
//   1. Calibrate: for each contender, find an operation count per batch that makes one batch last about
//      `batchMs` (so the timer's resolution and call overhead are negligible).
//   2. Warm up: run every contender for `warmupMs` (JIT tiers, inline caches, lazy compilation).
//   3. Measure: rounds of one batch per contender, interleaved (A B, then B A, …) in this process, so
//      that drift (CPU frequency, GC pressure, noisy neighbours) hits every contender alike. Each batch
//      gives one µs/op value from process.hrtime.bigint(). The loop stops after `maxBatches` rounds or
//      `maxMs` milliseconds, whichever comes first (but not before `minBatches` rounds).
//   4. Report, per contender, the median of the batch values, with p25, p75, min and the batch count.
//
// Every result a contender returns is folded into a sink that is read at the end (`sink()`), so no call
// can be optimised away.

let sinkValue = 0;

/** The value every measured result was folded into; print or check it so the work stays observable. */
export function sink() {
  return sinkValue;
}

function fold(result) {
  // Cheap and type-agnostic: booleans, numbers, objects (truthy) all change the sink.
  sinkValue = (sinkValue * 31 + (result ? 1 : 0)) | 0;
}

/** Runs `fn` `n` times and returns the elapsed time in nanoseconds (as a Number). */
function timeBatch(fn, n) {
  let local = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = fn();
    local = (local + (r ? 1 : 0)) | 0;
  }
  const end = process.hrtime.bigint();
  fold(local);
  return Number(end - start);
}

/** The q-quantile (0..1) of an ascending array, linear interpolation between neighbours. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Summary statistics of per-batch µs/op values. */
export function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    batches: sorted.length,
  };
}

/** How many operations make a batch last about `batchNs`; at least 1, at most `maxOps`. */
function calibrate(fn, batchNs, maxOps) {
  let n = 1;
  for (;;) {
    const ns = timeBatch(fn, n);
    if (ns >= batchNs || n >= maxOps) {
      // Scale to the target from the last measurement (it is long enough to be meaningful).
      const scaled = Math.round((n * batchNs) / Math.max(ns, 1));
      return Math.max(1, Math.min(maxOps, scaled));
    }
    n *= ns < batchNs / 16 ? 8 : 2;
  }
}

/**
 * Measures one or more contenders side by side, interleaved batch by batch.
 *
 * @param {{ name: string, fn: () => unknown }[]} contenders
 * @param {object} [options]
 * @param {number} [options.batchMs=5]      target duration of one batch
 * @param {number} [options.warmupMs=150]   warm-up time per contender
 * @param {number} [options.minBatches=15]  rounds measured at least (unless maxMs is hit hard, see below)
 * @param {number} [options.maxBatches=200] rounds measured at most
 * @param {number} [options.maxMs=1500]     wall-clock budget for the measured rounds (all contenders)
 * @param {number} [options.maxOps=1e6]     cap on operations per batch
 * @returns {{ name: string, opsPerBatch: number } & ReturnType<typeof summarize>}[]}
 */
export function compare(contenders, options = {}) {
  const { batchMs = 5, warmupMs = 150, minBatches = 15, maxBatches = 200, maxMs = 1500, maxOps = 1e6 } = options;
  const batchNs = batchMs * 1e6;

  // Calibrate and warm up each contender.
  const ops = contenders.map((c) => calibrate(c.fn, batchNs, maxOps));
  contenders.forEach((c, i) => {
    const until = process.hrtime.bigint() + BigInt(Math.round(warmupMs * 1e6));
    while (process.hrtime.bigint() < until) timeBatch(c.fn, ops[i]);
  });
  // Re-calibrate after warm-up: optimised code is faster than the first calls were.
  contenders.forEach((c, i) => (ops[i] = calibrate(c.fn, batchNs, maxOps)));

  const samples = contenders.map(() => []);
  const start = process.hrtime.bigint();
  const budgetNs = BigInt(Math.round(maxMs * 1e6));
  // A hard stop at 3× the budget even if minBatches is not reached (a contender much slower than hoped).
  const hardNs = budgetNs * 3n;
  for (let round = 0; round < maxBatches; round++) {
    const elapsed = process.hrtime.bigint() - start;
    if (elapsed >= hardNs) break;
    if (round >= minBatches && elapsed >= budgetNs) break;
    const order = round % 2 === 0 ? contenders.map((_, i) => i) : contenders.map((_, i) => contenders.length - 1 - i);
    for (const i of order) {
      const ns = timeBatch(contenders[i].fn, ops[i]);
      samples[i].push(ns / 1000 / ops[i]);
    }
  }
  return contenders.map((c, i) => ({ name: c.name, opsPerBatch: ops[i], ...summarize(samples[i]) }));
}

/** Formats µs with sensible precision. */
export function fmtUs(us) {
  if (!Number.isFinite(us)) return 'n/a';
  if (us < 1) return us.toFixed(3);
  if (us < 10) return us.toFixed(2);
  if (us < 100) return us.toFixed(1);
  return us.toFixed(0);
}

/** Formats a ratio. */
export function fmtRatio(x) {
  if (!Number.isFinite(x)) return 'n/a';
  return x >= 100 ? `${x.toFixed(0)}×` : x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`;
}

/** Renders a Markdown table; `align` is a list of 'l' | 'r' per column. */
export function markdownTable(header, rows, align = []) {
  const sep = header.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(sep), ...rows.map(line)].join('\n');
}
