// read_committed filtering of aborted transactions: kafkajs' own filter lets records of aborted
// transactions through when transactions overlap and are aborted out of order (what a crashed
// processor leaves in its output topics); lib/kafka/read-committed-fix.ts does not.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { markAbortedRecords, type FetchedRecord } from '../../lib/kafka/read-committed-fix.js';

const require = createRequire(import.meta.url);
const kafkajsFilter = require('kafkajs/src/consumer/filterAbortedMessages.js') as (args: {
  messages: FetchedRecord[];
  abortedTransactions: Array<{ producerId: string; firstOffset: string }>;
}) => FetchedRecord[];

const data = (offset: number, producerId: string, inTransaction = true): FetchedRecord => ({
  offset: String(offset),
  key: Buffer.from(`k${offset}`),
  batchContext: { producerId, inTransaction },
});
const marker = (offset: number, producerId: string, abort: boolean): FetchedRecord => ({
  offset: String(offset),
  key: Buffer.from([0, 0, 0, abort ? 0 : 1]),
  isControlRecord: true,
  batchContext: { producerId, inTransaction: true },
});

/** A and B write interleaved; B is aborted first, then A; C commits; then A writes again and commits. */
function log(): FetchedRecord[] {
  return [
    data(0, 'A'),
    data(1, 'B'),
    data(2, 'A'),
    data(3, 'B'),
    data(4, 'C'),
    marker(5, 'B', true),
    marker(6, 'A', true),
    marker(7, 'C', false),
    data(8, 'A'),
    marker(9, 'A', false),
    data(10, 'D', false),
  ];
}
// As the broker lists them: in the order they were aborted.
const aborted = [
  { producerId: 'B', firstOffset: '1' },
  { producerId: 'A', firstOffset: '0' },
];
const committedOffsets = ['4', '8', '10'];

describe('read_committed filtering', () => {
  it('kafkajs alone lets records of aborted transactions through (the bug the fix is for)', () => {
    const kept = kafkajsFilter({ messages: log(), abortedTransactions: aborted }).filter((m) => !m.isControlRecord);
    assert.notDeepEqual(kept.map((m) => m.offset), committedOffsets);
  });

  it('markAbortedRecords keeps exactly the committed records', () => {
    const records = log();
    assert.equal(markAbortedRecords(records, aborted), 4);
    assert.deepEqual(records.filter((m) => !m.isControlRecord).map((m) => m.offset), committedOffsets);
  });

  it('handles a fetch that starts inside several aborted transactions', () => {
    const records = log().slice(2); // the fetch began at offset 2
    markAbortedRecords(records, aborted);
    assert.deepEqual(records.filter((m) => !m.isControlRecord).map((m) => m.offset), committedOffsets);
  });

  it('leaves everything alone when nothing was aborted', () => {
    const records = log();
    assert.equal(markAbortedRecords(records, []), 0);
    assert.equal(records.filter((m) => !m.isControlRecord).length, 7);
  });
});
