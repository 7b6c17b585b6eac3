// The partition store's layers: a record's writes vanish when it fails, a transaction's when it
// aborts; values are copies (changing an object got from the store changes nothing); restore
// resolves values written with an older state schema.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { PartitionStore, StateError, foldChangelog } from '../../lib/kit/state-store.js';
import { TransientError, WireDecoder, WireEncoder, parseSchema } from '../../lib/kafka/codec.js';
import { sleep } from '../../lib/async.js';
import { deadLetterMessage, readDeadLetterHeaders } from '../../lib/kit/dead-letter.js';

const schema = { type: 'record', name: 'Tally', fields: [{ name: 'count', type: 'int' }, { name: 'note', type: 'string', default: '' }] };
const type = parseSchema(schema, 'test');
const encoder = new WireEncoder(type, 7);
const store = () => new PartitionStore<{ count: number; note: string }>(type, encoder);

describe('partition store', () => {
  it('keeps a record’s writes only when the record is accepted', () => {
    const s = store();
    s.beginRecord();
    s.put('a', { count: 1, note: '' });
    assert.equal(s.get('a')?.count, 1, 'a record sees its own writes');
    s.rejectRecord();
    assert.equal(s.get('a'), undefined);
    s.beginRecord();
    s.put('a', { count: 2, note: '' });
    s.acceptRecord();
    assert.equal(s.get('a')?.count, 2, 'later records of the transaction see it');
    s.abort();
    assert.equal(s.get('a'), undefined, 'an aborted transaction leaves nothing');
  });

  it('writes one changelog record per key, the last value, and commits', () => {
    const s = store();
    for (const [key, count] of [['a', 1], ['b', 1], ['a', 2]] as const) {
      s.beginRecord();
      s.put(key, { count, note: '' });
      s.acceptRecord();
    }
    s.beginRecord();
    s.delete('b');
    s.acceptRecord();
    const messages = s.changelogMessages(3, '0');
    assert.deepEqual(messages.map((m) => [m.key, m.partition, m.value === null ? null : type.fromBuffer((m.value as Buffer).subarray(5)).count]), [['a', 3, 2], ['b', 3, null]]);
    assert.deepEqual([...(messages[0]!.value as Buffer).subarray(0, 5)], [0, 0, 0, 0, 7], 'wire-format header with the registered id');
    s.commit();
    assert.equal(s.get('a')?.count, 2);
    assert.equal(s.get('b'), undefined);
    assert.equal(s.hasPendingWrites, false);
  });

  it('hands out copies', () => {
    const s = store();
    s.beginRecord();
    const value = { count: 1, note: 'x' };
    s.put('a', value);
    value.count = 99;
    s.acceptRecord();
    s.commit();
    const got = s.get('a')!;
    got.count = 50;
    assert.equal(s.get('a')?.count, 1);
  });

  it('rejects values the schema does not allow, and remembers it even if process() catches', () => {
    const s = store();
    s.beginRecord();
    assert.throws(() => s.put('a', { count: 'x' } as never), StateError);
    assert.ok(s.recordError instanceof StateError);
    s.rejectRecord();
    assert.equal(s.recordError, undefined);
  });

  it('restores the latest value per key, resolving an older schema', async () => {
    const old = parseSchema({ type: 'record', name: 'Tally', fields: [{ name: 'count', type: 'int' }] }, 'old');
    const registry = { getSchema: async (id: number) => (id === 3 ? old : Promise.reject(Object.assign(new Error('nope'), { status: 404 }))) } as unknown as SchemaRegistry;
    // unknownAfterMs 0: a 404 counts at once here (the grace is tested below).
    const decoder = new WireDecoder<unknown>(registry, type, 7, 0);
    const latest = new Map<string, Buffer | null>();
    const message = (key: string, value: Buffer | null) => ({ key: Buffer.from(key), value, offset: '0', timestamp: '0', attributes: 0, headers: {} });
    foldChangelog(latest, message('a', new WireEncoder(old, 3).encode({ count: 5 })));
    foldChangelog(latest, message('b', encoder.encode({ count: 1, note: 'n' })));
    foldChangelog(latest, message('c', encoder.encode({ count: 1, note: '' })));
    foldChangelog(latest, message('c', null));
    foldChangelog(latest, message('d', new WireEncoder(old, 4).encode({ count: 1 })));
    await decoder.prepare(latest.values());
    const s = store();
    const unreadable = s.restore(latest, decoder as WireDecoder<{ count: number; note: string }>);
    assert.deepEqual({ ...s.get('a') }, { count: 5, note: '' });
    assert.deepEqual({ ...s.get('b') }, { count: 1, note: 'n' });
    assert.equal(s.get('c'), undefined);
    assert.deepEqual(unreadable.map((u) => u.key), ['d']);
    assert.equal(s.size, 2);
  });
});

describe('schema ids the registry answers 404 for', () => {
  it('are asked again for a while (a registry still loading), then count as unknown', async () => {
    let loaded = false;
    const known = parseSchema({ type: 'record', name: 'Tally', fields: [{ name: 'count', type: 'int' }] }, 'known');
    const registry = { getSchema: async (id: number) => (loaded && id === 3 ? known : Promise.reject(Object.assign(new Error('not found'), { status: 404 }))) } as unknown as SchemaRegistry;
    const decoder = new WireDecoder<unknown>(registry, known, undefined, 200);
    const value = new WireEncoder(known, 3).encode({ count: 2 });
    const other = new WireEncoder(known, 9).encode({ count: 2 });
    await assert.rejects(decoder.prepare([value, other]), TransientError);
    loaded = true;
    await assert.rejects(decoder.prepare([other]), TransientError, 'id 9 still within its grace');
    await decoder.prepare([value]);
    assert.equal(decoder.decode(value).ok, true, 'the id the registry found once loaded decodes');
    await sleep(250);
    await decoder.prepare([other]);
    assert.deepEqual(decoder.decode(other), { ok: false, reason: 'unknown-schema', error: 'schema id 9 is not in the Schema Registry' });
  });
});

describe('dead-letter records', () => {
  it('keep key, value, timestamp and headers, and say why and where from', () => {
    const message = { key: Buffer.from('k'), value: Buffer.from([1, 2, 3]), offset: '42', timestamp: '1700000000000', attributes: 0, headers: { trace: Buffer.from('t1') } };
    const letter = deadLetterMessage('proc', { topic: 'raw', partition: 2, message }, 'process-error', 'x'.repeat(5000), 'TypeError', Date.now());
    assert.equal(letter.key, message.key);
    assert.equal(letter.value, message.value);
    assert.equal(letter.timestamp, '1700000000000');
    const h = readDeadLetterHeaders(letter.headers);
    assert.equal(h.reason, 'process-error');
    assert.equal(h.topic, 'raw');
    assert.equal(h.partition, '2');
    assert.equal(h.offset, '42');
    assert.equal(h.processor, 'proc');
    assert.equal(h.errorName, 'TypeError');
    assert.ok(h.error!.length <= 4001);
    assert.equal(letter.headers!.trace!.toString(), 't1');
  });
});
