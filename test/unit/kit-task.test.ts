// The task without a broker: wire bytes in, what a transaction would send out. Every dead-letter
// reason, the order of what is sent, staged state, the hooks replay uses, and strict mode.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaMessage } from 'kafkajs';
import { defineProcessor } from '../../lib/kit/processor.js';
import { DefinitionError, ProcessorTask, SchemaViolationError, type TaskOutput } from '../../lib/kit/task.js';
import { MemoryRegistry } from '../../lib/kit/test-driver.js';
import { PartitionStore } from '../../lib/kit/state-store.js';
import { WireDecoder, WireEncoder, parseSchema } from '../../lib/kafka/codec.js';
import { DLQ_HEADERS } from '../../lib/kit/dead-letter.js';

const wordSchema = { type: 'record', name: 'Word', fields: [{ name: 'word', type: 'string' }] };
const countSchema = { type: 'record', name: 'Count', fields: [{ name: 'n', type: 'long' }] };
interface Word {
  word: string;
}
interface Count {
  n: number;
}

const counter = defineProcessor<Word, { counts: Count; words: Word }, Count>({
  name: 'counter',
  description: 'test',
  input: { topic: 'in', schema: wordSchema },
  outputs: { counts: { topic: 'counts', schema: countSchema }, words: { topic: 'words', schema: wordSchema } },
  state: { store: 'counts', schema: countSchema },
  process(record, { state }) {
    const word = record.value.word;
    const n = (state.get(word)?.n ?? 0) + 1;
    state.put(word, { n });
    if (word === 'throw') throw new TypeError('no');
    if (word === 'bad-output') return [{ output: 'counts', key: word, value: { n: 'x' } as unknown as Count }];
    if (word === 'undeclared') return [{ output: 'nope' as 'counts', key: word, value: { n } }];
    if (word === 'not-array') return 'x' as never;
    if (word === 'bad-state') state.put('y', { n: 0.5 });
    if (word === 'big') return [{ output: 'words', key: word, value: { word: 'w'.repeat(2_000) } }];
    if (word === 'extra') return [{ output: 'words', key: word, value: { word, extra: 1 } as Word }];
    return [
      { output: 'counts', key: word, value: { n } },
      { output: 'words', key: record.key, value: record.value, headers: { from: record.topic } },
    ];
  },
});

function setUp(options: { strict?: boolean; hooks?: ProcessorTask<Word, { counts: Count; words: Word }, Count>['config']['hooks'] } = {}) {
  const registry = new MemoryRegistry();
  const wordType = parseSchema(wordSchema, 'word');
  const countType = parseSchema(countSchema, 'count');
  const inputId = registry.register(wordSchema);
  const outputs: TaskOutput[] = [
    { name: 'counts', topic: 'counts', encoder: new WireEncoder(countType, registry.register(countSchema)), maxRecordBytes: 1_000 },
    { name: 'words', topic: 'words', encoder: new WireEncoder(wordType, inputId), maxRecordBytes: 1_000 },
  ];
  const decoder = new WireDecoder<Word>(registry, wordType, inputId);
  const task = new ProcessorTask({ definition: counter, inputTopic: 'in', inputDecoder: decoder, outputs, deadLetterTopic: 'dlq', changelogTopic: 'changelog', strict: options.strict, hooks: options.hooks });
  const store = new PartitionStore<Count>(countType, new WireEncoder(countType, registry.register(countSchema)));
  let offset = 0;
  const message = (value: Buffer | null, key: string | null = null): KafkaMessage =>
    ({ offset: String(offset++), key: key === null ? null : Buffer.from(key), value, headers: { h: 'v' }, timestamp: '1700000000000', attributes: 0 }) as KafkaMessage;
  const word = (w: string) => message(new WireEncoder(wordType, inputId).encode({ word: w }), w);
  return { task, store, registry, decoder, message, word, inputId };
}

describe('ProcessorTask', () => {
  it('sends outputs per topic in order, then the changelog, then the dead letters', () => {
    const { task, store, word } = setUp();
    const result = task.run(0, [word('a'), word('b'), word('a')], store, 42);
    assert.deepEqual(result.topicMessages.map((t) => [t.topic, t.messages.length]), [['counts', 3], ['words', 3], ['changelog', 2]]);
    assert.deepEqual(result.topicMessages[2]!.messages.map((m) => m.key), ['b', 'a'], 'one changelog record per key, in the order of last writes');
    assert.equal(result.recordsIn, 3);
    assert.deepEqual([...result.outCounts], [['counts', 3], ['words', 3]]);
    assert.equal(store.size, 0, 'state is staged, not committed');
    store.commit();
    assert.equal(store.get('a')?.n, 2);
  });

  it('dead-letters every kind of bad record with its reason, keeping the good ones around them', () => {
    const { task, store, word, message, registry } = setUp();
    const other = registry.register({ type: 'record', name: 'Other', fields: [{ name: 'z', type: 'int' }] });
    const batch = [
      word('ok1'),
      message(null, 'tombstone'),
      message(Buffer.from([1, 2, 3, 4, 5, 6])),
      message(Buffer.from([0, 0, 0, 0, 77, 2])),
      message(Buffer.from([0, 0, 0, 0, 1, 0xff, 0xff, 0xff])),
      message(Buffer.from([0, 0, 0, 0, other, 4])),
      word('throw'),
      word('bad-output'),
      word('undeclared'),
      word('not-array'),
      word('bad-state'),
      word('big'),
      word('ok2'),
    ];
    // The runner asks the registry for ids 77 and `other` before running; the stand-in answers here.
    for (const id of task.config.inputDecoder.missingIds(batch.map((m) => m.value))) task.config.inputDecoder.learn(id, registry.typeOf(id));
    const result = task.run(3, batch, store, Date.UTC(2026, 10, 30));
    assert.deepEqual(
      result.deadLetters.map((d) => [d.offset, d.reason]),
      [
        ['1', 'invalid-wire-format'],
        ['2', 'invalid-wire-format'],
        ['3', 'unknown-schema'],
        ['4', 'malformed-avro'],
        ['5', 'incompatible-schema'],
        ['6', 'process-error'],
        ['7', 'invalid-output'],
        ['8', 'invalid-output'],
        ['9', 'invalid-output'],
        ['10', 'invalid-state'],
        ['11', 'invalid-output'],
      ],
    );
    assert.match(result.deadLetters[10]!.error, /record for output 'words' is \d+ bytes; topic 'words' accepts at most 1512/);
    const dlq = result.topicMessages.find((t) => t.topic === 'dlq')!.messages;
    assert.equal(dlq.length, 11);
    assert.equal(dlq[5]!.headers![DLQ_HEADERS.errorName], 'TypeError');
    assert.equal(dlq[5]!.headers![DLQ_HEADERS.partition], '3');
    assert.equal(dlq[5]!.headers![DLQ_HEADERS.timestamp], '2026-11-30T00:00:00.000Z', 'the caller\'s clock, not the task\'s');
    assert.equal(dlq[5]!.headers!.h, 'v', 'the input record\'s headers are kept');
    assert.deepEqual([...result.deadCounts].sort(), [['incompatible-schema', 1], ['invalid-output', 4], ['invalid-state', 1], ['invalid-wire-format', 2], ['malformed-avro', 1], ['process-error', 1], ['unknown-schema', 1]]);
    assert.deepEqual(result.outCounts.get('counts'), 2, 'ok1 and ok2');
    store.commit();
    assert.deepEqual(
      ['ok1', 'ok2', 'throw', 'bad-output', 'bad-state', 'y'].map((k) => store.get(k)?.n),
      [1, 1, undefined, undefined, undefined, undefined],
      'a dead-lettered record leaves no state',
    );
  });

  it('strict mode throws definition bugs instead of dead-lettering them; record errors stay dead letters', () => {
    const strict = setUp({ strict: true });
    assert.throws(() => strict.task.run(0, [strict.word('bad-output')], strict.store, 0), SchemaViolationError);
    assert.throws(() => strict.task.run(0, [strict.word('undeclared')], strict.store, 0), (e) => e instanceof DefinitionError && !(e instanceof SchemaViolationError));
    assert.throws(() => strict.task.run(0, [strict.word('extra')], strict.store, 0), /fields its schema does not declare/);
    const result = strict.task.run(0, [strict.word('throw')], strict.store, 0);
    assert.deepEqual(result.deadLetters.map((d) => d.reason), ['process-error']);
    const lenient = setUp();
    assert.equal(lenient.task.run(0, [lenient.word('extra')], lenient.store, 0).outCounts.get('words'), 1, 'without strict, undeclared fields are dropped as the encoder drops them');
  });

  it('hooks: inputs can be ignored and encoded outputs filtered, without touching state of ignored records', () => {
    const seen: string[] = [];
    const { task, store, word } = setUp({
      hooks: {
        acceptInput: (_partition, offset) => Number(offset) < 2,
        acceptOutput: (encoded, input) => {
          seen.push(`${input.offset}:${encoded.output.name}:${encoded.message.value?.length}`);
          return encoded.output.name === 'counts';
        },
      },
    });
    const result = task.run(0, [word('a'), word('b'), word('c')], store, 0);
    assert.equal(result.ignored, 1);
    assert.deepEqual([...result.outCounts], [['counts', 2], ['words', 0]]);
    assert.deepEqual(seen, ['0:counts:6', '0:words:7', '1:counts:6', '1:words:7']);
    store.commit();
    assert.equal(store.get('c'), undefined);
  });
});
