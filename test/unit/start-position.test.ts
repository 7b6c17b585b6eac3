// The start-position syntax shared by subscribe, replay and dlq redrive, and how a position is
// resolved against a partition's offsets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { durationMs, parseSince, parseStartPosition, startOffset } from '../../lib/kafka/start-position.js';

const now = Date.UTC(2026, 10, 30, 12, 0, 0);

describe('parseStartPosition', () => {
  it('reads every form', () => {
    assert.deepEqual(parseStartPosition('beginning'), { kind: 'beginning' });
    assert.deepEqual(parseStartPosition('end'), { kind: 'end' });
    assert.deepEqual(parseStartPosition('42'), { kind: 'offset', offset: 42 });
    assert.deepEqual(parseStartPosition('-10'), { kind: 'tail', count: 10 });
    assert.deepEqual(parseStartPosition('1700000000000'), { kind: 'time', ms: 1_700_000_000_000 });
    assert.deepEqual(parseStartPosition('2026-11-30T11:00:00Z'), { kind: 'time', ms: now - 3_600_000 });
    assert.deepEqual(parseStartPosition('1h', now), { kind: 'time', ms: now - 3_600_000 });
    assert.deepEqual(parseStartPosition('1h30m', now), { kind: 'time', ms: now - 5_400_000 });
    assert.deepEqual(parseSince('2d', now), { kind: 'time', ms: now - 2 * 86_400_000 });
  });

  it('refuses what is none of them, and a duration without a unit', () => {
    assert.throws(() => parseStartPosition('yesterday'), /not 'beginning', 'end', an offset, -N/);
    assert.throws(() => parseSince('5'), /not a duration/);
    assert.equal(durationMs('15'), undefined);
    assert.equal(durationMs('15m'), 900_000);
  });
});

describe('startOffset', () => {
  it('resolves a position within [low, high]', () => {
    assert.equal(startOffset({ kind: 'beginning' }, 5, 20), 5);
    assert.equal(startOffset({ kind: 'end' }, 5, 20), 20);
    assert.equal(startOffset({ kind: 'offset', offset: 2 }, 5, 20), 5);
    assert.equal(startOffset({ kind: 'offset', offset: 99 }, 5, 20), 20);
    assert.equal(startOffset({ kind: 'tail', count: 3 }, 5, 20), 17);
    assert.equal(startOffset({ kind: 'tail', count: 30 }, 5, 20), 5);
    assert.equal(startOffset({ kind: 'time', ms: 1 }, 5, 20, 12), 12);
    assert.equal(startOffset({ kind: 'time', ms: 1 }, 5, 20, -1), 20, 'no record at or after the time: the end');
  });
});
