import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { defineProcessor } from '../../lib/kit/processor.js';
import { DefinitionError, ProcessorTestDriver, SchemaViolationError } from '../../lib/kit/test-driver.js';

const countSchema = { type: 'record', name: 'Count', fields: [{ name: 'n', type: 'long' }] };
const wordSchema = {
  type: 'record',
  name: 'Word',
  fields: [
    { name: 'word', type: 'string' },
    { name: 'at', type: ['null', { type: 'long', logicalType: 'timestamp-millis' }], default: null },
  ],
};

interface Word {
  word: string;
  at: number | null;
}
interface Count {
  n: number;
}

/** Counts words per key; throws on "boom"; emits a bad record on "bad-out", puts a bad state on "bad-state". */
const wordCount = defineProcessor<Word, { counts: Count; echoes: Word }, Count>({
  name: 'word-count',
  description: 'test processor',
  input: { topic: 'words', schema: wordSchema },
  outputs: { counts: { topic: 'counts', schema: countSchema, compacted: true }, echoes: { topic: 'echoes', schema: wordSchema } },
  state: { store: 'counts', schema: countSchema },
  process(record, { state }) {
    const word = record.value.word;
    const n = (state.get(word)?.n ?? 0) + 1;
    state.put(word, { n });
    if (word === 'boom') throw new RangeError('boom is not a word');
    if (word === 'bad-out') return [{ output: 'counts', key: word, value: { n: 'many' } as unknown as Count }];
    if (word === 'bad-state') {
      try {
        state.put('x', { n: 1.5 });
      } catch {
        // swallowed: the driver must still fail the pipe
      }
    }
    if (word === 'forget') {
      state.delete('hello');
      return [{ output: 'counts', key: 'hello', value: null }];
    }
    return [
      { output: 'counts', key: word, value: { n } },
      { output: 'echoes', key: record.key, value: record.value, headers: { from: record.topic } },
    ];
  },
});

describe('ProcessorTestDriver', () => {
  test('pipes records, keeps state across records, queues outputs per declared output', () => {
    const driver = new ProcessorTestDriver(wordCount);
    driver.pipe({ word: 'hello', at: null }, { key: 'k1' });
    const returned = driver.pipe({ word: 'hello', at: 5 });
    assert.equal(returned.length, 2);
    const first = driver.read('counts');
    assert.deepEqual({ ...first, cloudEvent: undefined }, { topic: 'counts', key: 'hello', value: { n: 1 }, headers: {}, cloudEvent: undefined });
    // The runner's CloudEvents headers: the input had none, so its position, time and key stand in.
    assert.deepEqual(first?.cloudEvent, {
      ce_specversion: '1.0',
      ce_id: 'words/0/0',
      ce_source: '/kubetrail/processor/word-count',
      ce_type: 'io.kubetrail.word-count.counts',
      ce_time: '2024-01-01T00:00:00.000Z',
      ce_subject: 'k1',
      'content-type': 'application/avro; subject=counts-value',
    });
    assert.deepEqual(driver.readAll('counts').map((r) => r.value), [{ n: 2 }]);
    assert.equal(driver.read('counts'), undefined);
    assert.deepEqual(
      driver.readAll('echoes').map((r) => [r.key, r.value, r.headers]),
      [
        ['k1', { word: 'hello', at: null }, { from: 'words' }],
        [null, { word: 'hello', at: 5 }, { from: 'words' }],
      ],
    );
    assert.deepEqual(driver.stateGet('hello'), { n: 2 });
  });

  test('state persists across restart; unread outputs and dead letters do not', () => {
    const driver = new ProcessorTestDriver(wordCount);
    driver.pipe({ word: 'a', at: null });
    driver.pipe({ word: 'boom', at: null });
    assert.equal(driver.deadLetters().length, 1);
    driver.restart();
    assert.deepEqual(driver.readAll('counts'), []);
    assert.deepEqual(driver.deadLetters(), []);
    driver.pipe({ word: 'a', at: null });
    assert.deepEqual(driver.readAll('counts').map((r) => r.value), [{ n: 2 }]);
    assert.deepEqual(driver.stateEntries(), [['a', { n: 2 }]]);
  });

  test('a throwing process() dead-letters the record and drops its state writes and outputs', () => {
    const driver = new ProcessorTestDriver(wordCount);
    driver.pipe({ word: 'boom', at: null }, { key: 'k', headers: { h: '1' } });
    driver.pipe({ word: 'boom', at: null });
    const dead = driver.deadLetters();
    assert.equal(dead.length, 2);
    assert.equal(dead[0]!.error, 'boom is not a word');
    assert.equal(dead[0]!.errorName, 'RangeError');
    assert.equal(dead[0]!.reason, 'process-error');
    assert.equal(dead[0]!.key, 'k');
    assert.deepEqual(dead[0]!.headers, { h: '1' });
    assert.deepEqual([dead[0]!.offset, dead[1]!.offset], ['0', '1']);
    assert.equal(driver.stateGet('boom'), undefined);
    assert.deepEqual(driver.readAll('counts'), []);
  });

  test('strict: an emitted value that does not conform to the output schema fails the pipe', () => {
    const driver = new ProcessorTestDriver(wordCount, { strict: true });
    assert.throws(() => driver.pipe({ word: 'bad-out', at: null }), (e: unknown) => e instanceof SchemaViolationError && /counts.*n: "many" is not long/s.test(e.message));
    assert.equal(driver.stateGet('bad-out'), undefined);
    assert.deepEqual(driver.deadLetters(), []);
  });

  test('strict: a state value that does not conform to the state schema fails the pipe, even when process() swallows the error', () => {
    const driver = new ProcessorTestDriver(wordCount, { strict: true });
    assert.throws(() => driver.pipe({ word: 'bad-state', at: null }), SchemaViolationError);
  });

  test('an input that does not conform to the input schema is refused, with undeclared fields', () => {
    const driver = new ProcessorTestDriver(wordCount);
    assert.throws(() => driver.pipe({ word: 3 } as unknown as Word), /input value piped to words does not conform/);
    assert.throws(() => driver.pipe({ word: 'x', at: null, extra: true } as unknown as Word), SchemaViolationError);
  });

  test('tombstones and state deletes', () => {
    const driver = new ProcessorTestDriver(wordCount);
    driver.pipe({ word: 'hello', at: null });
    driver.pipe({ word: 'forget', at: null });
    assert.equal(driver.stateGet('hello'), undefined);
    const counts = driver.readAll('counts');
    assert.deepEqual({ ...counts.at(-1), cloudEvent: undefined }, { topic: 'counts', key: 'hello', value: null, headers: {}, cloudEvent: undefined });
  });

  test('the processor cannot change piped values or stored state behind the driver', () => {
    const mutating = defineProcessor<Word, { counts: Count }, Count>({
      ...wordCount,
      outputs: { counts: wordCount.outputs.counts },
      process(record, { state }) {
        record.value.word = 'changed';
        const stored = state.get('k');
        if (stored) stored.n = 100;
        else state.put('k', { n: 1 });
        return [];
      },
    });
    const driver = new ProcessorTestDriver(mutating);
    const value = { word: 'w', at: null };
    driver.pipe(value);
    driver.pipe(value);
    assert.equal(value.word, 'w');
    assert.deepEqual(driver.stateGet('k'), { n: 1 });
  });

  test('strict: emitting to an undeclared output or using undeclared state is a definition error', () => {
    const stateless = defineProcessor<Word, { counts: Count }>({
      name: 'stateless',
      description: 'test',
      input: { topic: 'words', schema: wordSchema },
      outputs: { counts: { topic: 'counts', schema: countSchema } },
      process(record, context) {
        if (record.value.word === 'state') context.state.get('x');
        return [{ output: 'nope' as 'counts', key: null, value: { n: 1 } }];
      },
    });
    const driver = new ProcessorTestDriver(stateless, { strict: true });
    assert.throws(() => driver.pipe({ word: 'x', at: null }), DefinitionError);
    assert.throws(() => driver.pipe({ word: 'state', at: null }), DefinitionError);
    assert.throws(() => driver.readAll('nope' as 'counts'), /no output 'nope'/);

    // Without strict, the driver does what the runner does: dead letters with the reason.
    const lenient = new ProcessorTestDriver(stateless);
    assert.deepEqual(lenient.pipe({ word: 'x', at: null }), []);
    lenient.pipe({ word: 'state', at: null });
    assert.deepEqual(
      lenient.deadLetters().map((d) => [d.reason, d.errorName, d.error]),
      [
        ['invalid-output', 'InvalidOutputError', "'nope' is not a declared output (declared: counts)"],
        ['invalid-state', 'StateError', "processor 'stateless' uses state but declares none (add `state: { store, schema }` to its definition)"],
      ],
    );
  });

  test('without strict, schema violations are dead letters as under the runner, and the record leaves no state', () => {
    const driver = new ProcessorTestDriver(wordCount);
    assert.deepEqual(driver.pipe({ word: 'bad-out', at: null }), []);
    driver.pipe({ word: 'bad-state', at: null });
    assert.deepEqual(
      driver.deadLetters().map((d) => [d.reason, d.offset]),
      [
        ['invalid-output', '0'],
        ['invalid-state', '1'],
      ],
    );
    assert.match(driver.deadLetters()[0]!.error, /value for output 'counts' does not conform to its schema: n: "many" is not long/);
    assert.equal(driver.stateGet('bad-out'), undefined);
    assert.equal(driver.stateGet('bad-state'), undefined);
    assert.deepEqual(driver.readAll('counts'), []);
  });

  test('bytes that are not a record of the input schema are dead letters with the decoder\'s reason', () => {
    const driver = new ProcessorTestDriver(wordCount);
    driver.pipeBytes(null, { key: 'tombstone' });
    driver.pipeBytes(Buffer.from([0, 0, 0, 0, 99, 1]));
    driver.pipeBytes(Buffer.from([1, 2, 3, 4, 5, 6]));
    driver.pipeBytes(Buffer.from([0, 0, 0, 0, 1, 0xff, 0xff]));
    const other = driver.registry.register({ type: 'record', name: 'Other', fields: [{ name: 'n', type: 'int' }] });
    driver.pipeBytes(Buffer.concat([Buffer.from([0, 0, 0, 0, other]), Buffer.from([2])]));
    assert.deepEqual(
      driver.deadLetters().map((d) => d.reason),
      ['invalid-wire-format', 'unknown-schema', 'invalid-wire-format', 'malformed-avro', 'incompatible-schema'],
    );
    assert.equal(driver.deadLetters()[0]!.key, 'tombstone');
    assert.equal(driver.deadLetters()[0]!.message.headers?.['kubetrail-dlq-reason'], 'invalid-wire-format');
  });

  test('two outputs on one topic: each record is read back with its own schema, under its own output', () => {
    const shared = defineProcessor<Word, { counts: Count; echoes: Word }>({
      name: 'shared-topic',
      description: 'test',
      input: { topic: 'words', schema: wordSchema },
      outputs: { counts: { topic: 'mixed', schema: countSchema }, echoes: { topic: 'mixed', schema: wordSchema } },
      process(record) {
        return [
          { output: 'echoes', key: 'e', value: record.value },
          { output: 'counts', key: 'c', value: { n: record.value.word.length } },
        ];
      },
    });
    const driver = new ProcessorTestDriver(shared, { strict: true });
    driver.pipe({ word: 'four', at: null });
    assert.deepEqual(driver.readAll('counts').map((r) => r.value), [{ n: 4 }]);
    assert.deepEqual(driver.readAll('echoes').map((r) => r.value), [{ word: 'four', at: null }]);
  });

  test('an invalid schema is reported when the driver is built', () => {
    assert.throws(
      () => new ProcessorTestDriver({ ...wordCount, state: { store: 's', schema: { type: 'record', name: 'Bad', fields: [{ name: 'x', type: 'nosuchtype' }] } } }),
      /state schema: invalid Avro schema/,
    );
  });
});
