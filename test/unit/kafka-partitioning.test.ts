// lib/kafka/partitioning.ts: records get the partition kafkajs's default partitioner would give
// them, fixed before the send; a send that resolved without acknowledging a partition it had
// records for fails (kafkajs's retry can drop a partition whose leader moved mid-send).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Partitioners } from 'kafkajs';
import { checkAcknowledged, Partitioning, PartitionsNotAcknowledged } from '../../lib/kafka/partitioning.js';

const counts = async (topics: string[]) => new Map(topics.map((t) => [t, t === 'one' ? 1 : 3]));

describe('partitioning before a send', () => {
  it('gives keyed records the partition of the default partitioner, keeps a chosen one, spreads unkeyed ones', async () => {
    const loads: string[][] = [];
    const partitioning = new Partitioning(async (topics) => (loads.push(topics), counts(topics)));
    const keys = Array.from({ length: 30 }, (_, i) => `workflows.argoproj.io/ns/w${i}`);
    const [raw, one] = await partitioning.assign([
      { topic: 'raw', messages: [...keys.map((key) => ({ key, value: 'v' })), { key: 'x', value: 'v', partition: 2 }, { key: null, value: 'a' }, { key: null, value: 'b' }] },
      { topic: 'one', messages: [{ key: 'k', value: 'v' }] },
    ]);
    const reference = Partitioners.DefaultPartitioner();
    const meta = [0, 1, 2].map((partitionId) => ({ partitionId, leader: 0 }));
    assert.deepEqual(
      raw!.messages.slice(0, 30).map((m) => m.partition),
      keys.map((key) => reference({ topic: 'raw', partitionMetadata: meta as never, message: { key, value: 'v' } })),
    );
    assert.equal(new Set(raw!.messages.slice(0, 30).map((m) => m.partition)).size, 3, '30 keys reach all three partitions');
    assert.equal(raw!.messages[30]!.partition, 2);
    const [a, b] = [raw!.messages[31]!.partition!, raw!.messages[32]!.partition!];
    assert.notEqual(a, b, 'unkeyed records go round');
    assert.deepEqual(one!.messages.map((m) => m.partition), [0]);
    await partitioning.assign([{ topic: 'raw', messages: [{ key: 'k', value: 'v' }] }]);
    assert.deepEqual(loads, [['raw', 'one']], 'counts are read once per topic');
  });

  it('refuses a topic whose partitions it cannot learn', async () => {
    await assert.rejects(new Partitioning(async () => new Map()).assign([{ topic: 'gone', messages: [{ value: 'v' }] }]), /no partitions known for topic 'gone'/);
  });
});

describe('acknowledgements after a send', () => {
  const sent = [{ topic: 'raw', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }, { value: 'c', partition: 1 }] }];
  const ack = (partition: number, errorCode = 0) => ({ topicName: 'raw', partition, errorCode });

  it('passes when every partition written to is acknowledged', () => {
    assert.doesNotThrow(() => checkAcknowledged(sent, [ack(0), ack(1)]));
  });

  it('fails, retriably, when a partition is missing from the answer or answered with an error', () => {
    const missing = (() => {
      try {
        checkAcknowledged(sent, [ack(1)]);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    assert.ok(missing instanceof PartitionsNotAcknowledged);
    assert.deepEqual(missing.missing, ['raw-0']);
    assert.equal(missing.retriable, true);
    assert.throws(() => checkAcknowledged(sent, [ack(0), ack(1, 6)]), /acknowledged no write to raw-1/);
  });
});

describe('one send per partition', () => {
  it('splits a send by topic and partition, keeping the order of each partition', async () => {
    const { perPartition } = await import('../../lib/kafka/partitioning.js');
    const sends = perPartition([
      { topic: 'raw', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }, { value: 'c', partition: 0 }] },
      { topic: 'state', messages: [{ value: 's', partition: 0 }] },
    ]);
    assert.deepEqual(
      sends.map((s) => `${s.topic}:${s.messages.map((m) => `${m.partition}${m.value}`).join('')}`),
      ['raw:0a0c', 'raw:1b', 'state:0s'],
    );
  });
});
