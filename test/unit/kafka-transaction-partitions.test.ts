// lib/kafka/transaction-partitions.ts: the first AddPartitionsToTxn after an announcement carries
// every announced partition; later ones for added partitions make no request; a failed request
// is made again in full; another producer epoch, or an ended transaction, passes through.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { announceTransactionPartitions, coalescedAddPartitions, forgetTransactionPartitions, type AddPartitionsRequest } from '../../lib/kafka/transaction-partitions.js';

const request = (transactionalId: string, topics: AddPartitionsRequest['topics'], producerEpoch = 0): AddPartitionsRequest => ({ transactionalId, producerId: 7, producerEpoch, topics });
const messages = (...partitions: number[]) => partitions.map((partition) => ({ key: 'k', value: 'v', partition }));

function recorder(fail = 0) {
  const sent: AddPartitionsRequest['topics'][] = [];
  let failures = fail;
  const send = async (r: AddPartitionsRequest) => {
    sent.push(r.topics);
    if (failures-- > 0) throw new Error('coordinator not available');
    return { throttleTime: 0, errors: [{ sent: true }] };
  };
  return { sent, send };
}

describe('one AddPartitionsToTxn per transaction', () => {
  it('sends every announced partition with the first request and answers the rest without one', async () => {
    const { sent, send } = recorder();
    announceTransactionPartitions('t1', [{ topic: 'raw', messages: messages(2, 0, 2) }, { topic: 'state', messages: messages(0) }]);
    await coalescedAddPartitions(request('t1', [{ topic: 'raw', partitions: [2] }]), send);
    assert.deepEqual(sent, [[{ topic: 'raw', partitions: [0, 2] }, { topic: 'state', partitions: [0] }]]);
    await coalescedAddPartitions(request('t1', [{ topic: 'raw', partitions: [0] }]), send);
    await coalescedAddPartitions(request('t1', [{ topic: 'state', partitions: [0] }]), send);
    assert.equal(sent.length, 1, 'no request for partitions already added');
    // A partition nobody announced is added on its own.
    await coalescedAddPartitions(request('t1', [{ topic: 'raw', partitions: [0, 1] }]), send);
    assert.deepEqual(sent[1], [{ topic: 'raw', partitions: [1] }]);
    forgetTransactionPartitions('t1');
    await coalescedAddPartitions(request('t1', [{ topic: 'raw', partitions: [0] }]), send);
    assert.deepEqual(sent[2], [{ topic: 'raw', partitions: [0] }], 'after the transaction ended, every add is a request');
  });

  it('makes a failed request again in full', async () => {
    const { sent, send } = recorder(1);
    announceTransactionPartitions('t2', [{ topic: 'out', messages: messages(0, 1) }]);
    await assert.rejects(coalescedAddPartitions(request('t2', [{ topic: 'out', partitions: [0] }]), send), /coordinator not available/);
    await coalescedAddPartitions(request('t2', [{ topic: 'out', partitions: [0] }]), send);
    await coalescedAddPartitions(request('t2', [{ topic: 'out', partitions: [1] }]), send);
    assert.deepEqual(sent, [[{ topic: 'out', partitions: [0, 1] }], [{ topic: 'out', partitions: [0, 1] }]]);
  });

  it('leaves another producer epoch of the same transactional id alone', async () => {
    const { sent, send } = recorder();
    announceTransactionPartitions('t3', [{ topic: 'out', messages: messages(0, 1) }]);
    await coalescedAddPartitions(request('t3', [{ topic: 'out', partitions: [0] }], 4), send);
    // A fencing producer (epoch 5) neither inherits what epoch 4 added nor is answered here.
    await coalescedAddPartitions(request('t3', [{ topic: 'out', partitions: [1] }], 5), send);
    assert.deepEqual(sent, [[{ topic: 'out', partitions: [0, 1] }], [{ topic: 'out', partitions: [1] }]]);
    // Without an announcement, nothing is merged.
    await coalescedAddPartitions(request('t4', [{ topic: 'out', partitions: [3] }]), send);
    assert.deepEqual(sent[2], [{ topic: 'out', partitions: [3] }]);
  });

  it('refuses an announcement of a record without a partition', () => {
    assert.throws(() => announceTransactionPartitions('t5', [{ topic: 'out', messages: [{ key: 'k', value: 'v' }] }]), /has no partition/);
  });
});
