// The pure parts of `kubetrail replay`: the dedupe decisions (plain and compacted targets),
// canonical JSON, --from parsing, topic and group naming, the summary.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OutputIndex, ReplayDedupe, canonicalJson, outputHash } from '../../lib/replay-dedupe.js';
import { parseFrom } from '../../lib/replay.js';
import { replayGroupId, summaryLines, withSuffix, ProgressView } from '../../cli/replay.js';

const at = (offset: number, partition = 0) => ({ partition, offset });

describe('canonicalJson and outputHash', () => {
  it('gives equal text for equal values whatever the key order, and tells bytes, nulls and keys apart', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, 'x'], c: null } }), canonicalJson({ a: { c: null, d: [1, 'x'] }, b: 1 }));
    assert.equal(canonicalJson({ a: undefined, b: 2 }), '{"b":2}');
    assert.equal(canonicalJson(Buffer.from([1, 255])), '"0x01ff"');
    assert.notEqual(outputHash('t', null, '1'), outputHash('t', '', '1'));
    assert.notEqual(outputHash('t', 'k', null), outputHash('t', 'k', 'null'));
    assert.notEqual(outputHash('t1', 'k', '1'), outputHash('t2', 'k', '1'));
    assert.equal(Buffer.from(outputHash('t', 'k', '1'), 'latin1').length, 16);
  });
});

describe('ReplayDedupe on a topic that keeps every record', () => {
  it('skips what the topic holds and emits the rest', () => {
    const index = new OutputIndex();
    index.add('out', 'a', '1');
    index.add('out', 'a', '2');
    const dedupe = new ReplayDedupe(index);
    assert.equal(dedupe.decide('out', 'a', '1', at(0), 'r1'), 'duplicate');
    assert.equal(dedupe.decide('out', 'a', '2', at(1), 'r2'), 'duplicate');
    assert.equal(dedupe.decide('out', 'a', '3', at(2), 'r3'), 'emit');
    assert.equal(dedupe.decide('out', 'b', '1', at(3), 'r4'), 'emit');
    // The index does not learn from the replay: a retried transaction decides the same.
    assert.equal(dedupe.decide('out', 'a', '3', at(2), 'r3'), 'emit');
    assert.deepEqual(dedupe.finalWrites(), []);
    assert.deepEqual(dedupe.counts.get('out'), { emitted: 3, duplicate: 2, superseded: 0 });
  });
});

describe('ReplayDedupe on a compacted topic', () => {
  const compactedIndex = (records: Array<[string, string]>) => {
    const index = new OutputIndex();
    index.markCompacted('sum');
    for (const [key, value] of records) index.add('sum', key, value);
    return index;
  };

  it('writes nothing for a key the topic holds when the replay ends on the same value, even after repeats', () => {
    // The topic kept only v3 of key a (v1, v2 were compacted away); v3 also comes early in the replay.
    const dedupe = new ReplayDedupe(compactedIndex([['a', 'v3']]));
    assert.equal(dedupe.decide('sum', 'a', 'v1', at(0), 'v1'), 'superseded');
    assert.equal(dedupe.decide('sum', 'a', 'v3', at(1), 'v3'), 'duplicate');
    assert.equal(dedupe.decide('sum', 'a', 'v2', at(2), 'v2'), 'superseded');
    assert.equal(dedupe.decide('sum', 'a', 'v3', at(3), 'v3'), 'duplicate');
    assert.equal(dedupe.decide('sum', 'new-key', 'x', at(4), 'x'), 'emit');
    assert.equal(dedupe.decide('sum', 'new-key', 'y', at(5), 'y'), 'emit');
    assert.deepEqual(dedupe.finalWrites(), [], 'the replay ends where the topic is');
    assert.deepEqual(dedupe.counts.get('sum'), { emitted: 2, duplicate: 2, superseded: 2 });
  });

  it('writes the replay\'s last value at the end for a key it leaves elsewhere than the topic', () => {
    // The processor changed: it never produces v3 again; or it ends on an older value the topic still holds.
    const changed = new ReplayDedupe(compactedIndex([['a', 'v1'], ['a', 'v3'], ['b', 'v1'], ['b', 'v2']]));
    assert.equal(changed.decide('sum', 'a', 'v1', at(0), 'out-a-v1'), 'duplicate');
    assert.equal(changed.decide('sum', 'a', 'w2', at(1), 'out-a-w2'), 'superseded');
    assert.equal(changed.decide('sum', 'b', 'v1', at(2), 'out-b-v1'), 'duplicate');
    assert.deepEqual(changed.finalWrites(), [
      { topic: 'sum', key: 'a', output: 'out-a-w2' },
      { topic: 'sum', key: 'b', output: 'out-b-v1' },
    ]);
  });

  it('makes the same decisions when an aborted transaction is processed again', () => {
    const dedupe = new ReplayDedupe(compactedIndex([['a', 'v3']]));
    // First attempt of records 0..2, then the transaction aborts and they come again.
    for (let attempt = 0; attempt < 2; attempt++) {
      assert.equal(dedupe.decide('sum', 'a', 'v1', at(0), 'v1'), 'superseded');
      assert.equal(dedupe.decide('sum', 'a', 'w2', at(1), 'w2'), 'superseded');
      if (attempt === 0) continue;
      assert.equal(dedupe.decide('sum', 'a', 'v3', at(2), 'v3'), 'duplicate');
    }
    assert.deepEqual(dedupe.finalWrites(), []);
  });
});

describe('--from', () => {
  it('reads beginning, offsets and times', () => {
    assert.deepEqual(parseFrom('beginning'), { kind: 'beginning' });
    assert.deepEqual(parseFrom('42'), { kind: 'offset', offset: 42 });
    assert.deepEqual(parseFrom('offset:1700000000000'), { kind: 'offset', offset: 1_700_000_000_000 });
    assert.deepEqual(parseFrom('1700000000000'), { kind: 'time', ms: 1_700_000_000_000 });
    assert.deepEqual(parseFrom('time:5'), { kind: 'time', ms: 5 });
    assert.deepEqual(parseFrom('2024-01-01T00:00:00Z'), { kind: 'time', ms: Date.UTC(2024, 0, 1) });
    assert.throws(() => parseFrom('yesterday'), /not 'beginning', 'end', an offset, -N/);
  });
});

describe('names and output', () => {
  it('joins --into-new suffixes with a dot unless they bring their own separator', () => {
    assert.equal(withSuffix('kubetrail.workflows.summary', 'v2'), 'kubetrail.workflows.summary.v2');
    assert.equal(withSuffix('kubetrail.workflows.summary', '-v2'), 'kubetrail.workflows.summary-v2');
  });

  it('names the replay group after the live one and the time', () => {
    assert.equal(replayGroupId('workflow-summary', new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678))), 'workflow-summary.replay.20260102T030405678Z');
  });

  it('prints progress lines with rate and ETA', () => {
    assert.equal(ProgressView.line('replay x', { done: 500, total: 1000, recordsIn: 500, elapsedMs: 1000 }), 'replay x: 500/1000 records (50%), 500/s, ETA 1.0s');
  });

  it('summarises records, outputs per topic, dead letters and the group', () => {
    const lines = summaryLines({
      processor: 'workflow-summary',
      groupId: 'workflow-summary.replay.x',
      input: 'kubetrail.raw',
      from: 'the beginning',
      ranges: [{ partition: 0, start: 0, goal: 10 }],
      total: 10,
      recordsRead: 9,
      commits: 2,
      ignoredPastGoal: 0,
      outputs: [{ output: 'summaries', topic: 'kubetrail.workflows.summary', written: 2, duplicates: 5, superseded: 1, finalWrites: 0 }],
      deadLetters: { topic: 'workflow-summary.replay.x.dlq', count: 1, byReason: { 'process-error': 1 } },
      dedupe: { enabled: true, indexedRecords: 5, indexedTopics: ['kubetrail.workflows.summary'] },
      durationMs: 4000,
      processingMs: 3000,
      recordsPerSecond: 3,
      interrupted: false,
      kept: ['workflow-summary.replay.x.dlq'],
      deleted: ['group workflow-summary.replay.x'],
    }).join('\n');
    assert.match(lines, /done in 4.0s \(processing 3.0s\)/);
    assert.match(lines, /records read +9 of 10 offsets in 2 commits, 3 records\/s/);
    assert.match(lines, /summaries → kubetrail.workflows.summary: 2 written, 5 already there, 1 superseded \(compacted keys\)/);
    assert.match(lines, /dead letters +1 → workflow-summary.replay.x.dlq \(process-error 1\)/);
    assert.match(lines, /deleted: group workflow-summary.replay.x; kept: workflow-summary.replay.x.dlq/);
  });
});
