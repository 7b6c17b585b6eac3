// The garbage collector's pauses in a benchmark child (perf_hooks 'gc' entries: the main thread
// held), reported on its status lines so the latency benchmark can set them beside its slowest
// changes: was a change held up while the producer, the processor or the reading subscriber
// collected garbage?
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';

/** [start in ms since the epoch, duration ms, kind]. */
export type GcPause = [number, number, GcKind];
export type GcKind = 'minor' | 'major' | 'incremental' | 'weak' | 'unknown';

const kinds = new Map<number, GcKind>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weak'],
]);

/** Starts watching; take() returns the pauses of at least `minMs` since the last take(). */
export function watchGcPauses(minMs = 2): { take(): GcPause[] } {
  let pending: GcPause[] = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.duration < minMs) continue;
      const kind = kinds.get((entry as { detail?: { kind?: number } }).detail?.kind ?? 0) ?? 'unknown';
      // On the wall clock, as the changes' windows are (Date.now() in other processes): the
      // monotonic clock's origin, fixed at start, drifts from it over a long run.
      const wallOrigin = Date.now() - performance.now();
      pending.push([Math.round(wallOrigin + entry.startTime), Math.round(entry.duration * 10) / 10, kind]);
    }
  }).observe({ entryTypes: ['gc'] });
  return {
    take() {
      const taken = pending;
      pending = [];
      return taken;
    },
  };
}

/** How many of the windows [from, to] (ms since the epoch) overlap one of the pauses, and the longest such pause. */
export function overlapping(windows: ReadonlyArray<readonly [number, number]>, pauses: readonly GcPause[]): { changes: number; longestMs: number } {
  let changes = 0;
  let longestMs = 0;
  for (const [from, to] of windows) {
    let hit = false;
    for (const [start, ms] of pauses) {
      if (start < to && start + ms > from) {
        hit = true;
        longestMs = Math.max(longestMs, ms);
      }
    }
    if (hit) changes++;
  }
  return { changes, longestMs };
}

export interface GcBesideSlowest {
  changes: number;
  producer: { changes: number; longestMs: number };
  processor: { changes: number; longestMs: number };
  subscriber: { changes: number; longestMs: number };
  none: number;
  /** Every change of the run, and how many overlapped a pause of any of the three (the baseline for the slowest). */
  all: { changes: number; duringAPause: number };
  /** Pauses the children reported (2 ms or more) that began within the run: count and longest, per process. */
  pauses: Record<'producer' | 'processor' | 'subscriber', { count: number; longestMs: number }>;
}

/**
 * The changes whose window [from, to] (ms since the epoch) is at least p99 long, beside each
 * process's GC pauses; `run` [from, to] bounds the pauses counted in `pauses`. `all` is the
 * baseline: how many of every change of the run overlapped a pause of any of the three.
 */
export function gcBesideSlowest(
  windows: ReadonlyArray<readonly [number, number]>,
  p99: number,
  pauses: Record<'producer' | 'processor' | 'subscriber', readonly GcPause[]>,
  run: readonly [number, number] = [-Infinity, Infinity],
): GcBesideSlowest {
  const slowest = windows.filter(([from, to]) => to - from >= p99);
  const lists = Object.values(pauses);
  const stats = (list: readonly GcPause[]) => {
    const inRun = list.filter(([start]) => start >= run[0] && start <= run[1]);
    return { count: inRun.length, longestMs: inRun.reduce((m, [, ms]) => Math.max(m, ms), 0) };
  };
  const duringAny = (w: readonly [number, number]) => lists.some((list) => overlapping([w], list).changes > 0);
  return {
    changes: slowest.length,
    producer: overlapping(slowest, pauses.producer),
    processor: overlapping(slowest, pauses.processor),
    subscriber: overlapping(slowest, pauses.subscriber),
    none: slowest.filter((w) => !duringAny(w)).length,
    all: { changes: windows.length, duringAPause: windows.filter(duringAny).length },
    pauses: { producer: stats(pauses.producer), processor: stats(pauses.processor), subscriber: stats(pauses.subscriber) },
  };
}

export function gcText(g: GcBesideSlowest): string {
  const part = (name: 'producer' | 'processor' | 'subscriber') => `${name} ${g[name].changes}${g[name].changes > 0 ? ` (longest ${g[name].longestMs} ms)` : ''}`;
  return (
    `slowest ${g.changes} (≥ p99) during a GC pause of the ${part('producer')}, ${part('processor')}, ${part('subscriber')}, of none ${g.none} ` +
    `(all changes: ${g.all.duringAPause} of ${g.all.changes} during a pause); ` +
    `GC pauses ≥ 2 ms in the run: producer ${g.pauses.producer.count}, processor ${g.pauses.processor.count}, subscriber ${g.pauses.subscriber.count}`
  );
}
