// The latency benchmark's reading of GC pauses beside its slowest changes (bench/lib/gc-pauses.ts):
// which changes were in flight during a pause, per process, and which during none.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gcBesideSlowest, overlapping, type GcPause } from '../../bench/lib/gc-pauses.js';

describe('GC pauses beside the slowest changes', () => {
  it('a change overlaps a pause that begins or ends inside its window, not one that only touches it', () => {
    const windows: Array<[number, number]> = [[100, 120], [200, 230], [300, 310]];
    const pauses: GcPause[] = [[95, 10, 'minor'], [230, 5, 'major'], [305, 30, 'major'], [305, 2, 'minor']];
    // [95,105) overlaps the first; [230,235) starts where the second ends; [305,335) overlaps the third.
    assert.deepEqual(overlapping(windows, pauses), { changes: 2, longestMs: 30 });
    assert.deepEqual(overlapping(windows, []), { changes: 0, longestMs: 0 });
  });

  it('only the changes at or above p99 count, each process on its own, those near no pause, and every change as the baseline', () => {
    // Changes of 10, 50, 60, 12 and 70 ms.
    const windows: Array<[number, number]> = [[0, 10], [100, 150], [200, 260], [300, 312], [400, 470]];
    const result = gcBesideSlowest(
      windows,
      50,
      {
        // The first producer pause began before the run: it counts for the changes, not in the run's pauses.
        producer: [[-5, 8, 'minor'], [110, 12, 'major'], [210, 4, 'minor']],
        processor: [[220, 6, 'minor']],
        subscriber: [],
      },
      [0, 500],
    );
    assert.deepEqual(result, {
      changes: 3,
      producer: { changes: 2, longestMs: 12 },
      processor: { changes: 1, longestMs: 6 },
      subscriber: { changes: 0, longestMs: 0 },
      none: 1,
      all: { changes: 5, duringAPause: 3 },
      pauses: { producer: { count: 2, longestMs: 12 }, processor: { count: 1, longestMs: 6 }, subscriber: { count: 0, longestMs: 0 } },
    });
  });
});
