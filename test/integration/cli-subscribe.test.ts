// `kubetrail subscribe` as a user runs it (a child process) against the real stack: every start
// position, --until, partitions, kubectl selectors, every output format, dead letters with their
// reasons, the producer's JSON state, no consumer group left behind, and a quick, clear failure
// when Kafka or the registry cannot be reached.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { Partitioners } from 'kafkajs';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { testConnection, uniqueName } from '../support/services.js';
import { spawn } from 'node:child_process';
import { cliArgs, cliRoot, runCli } from '../support/cli.js';
import { createTopic, event, kafkaTestbed } from '../support/kit-helpers.js';
import { resourceEventSchema } from '../../schemas/generated/resource-event.js';
import { DLQ_HEADERS } from '../../lib/kit/dead-letter.js';
import type { PrintedRecord } from '../../cli/record-format.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups, created } = kafkaTestbed(connection);

/** A record as `subscribe -o json` prints it, with the value of a ResourceEvent. */
type JsonRecord = Omit<PrintedRecord, 'value'> & { value: { name: string; labels: Record<string, string> } & Record<string, unknown> };

const base = uniqueName('cli-sub');
const topic = `${base}.raw`;
const dlq = `${base}.dlq`;
const state = `${base}.state`;
const hourAgo = Date.now() - 3_600_000;
const oldAt = hourAgo - 3_600_000;
const labels: Array<Record<string, string>> = [{ team: 'a' }, { team: 'b' }, { team: 'c' }, { team: 'a', x: '1' }, { team: 'b' }, {}];
let schemaId = 0;

const lines = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as JsonRecord);
const names = (records: JsonRecord[]) => records.map((r) => r.value.name).sort();
async function subscribe(args: string[]) {
  const result = await runCli(['subscribe', ...args]);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  return result;
}

before(async () => {
  created.push(topic, dlq, state);
  await createTopic(admin, topic, 2);
  await createTopic(admin, dlq, 1);
  await createTopic(admin, state, 1, { 'cleanup.policy': 'compact' });
  ({ id: schemaId } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(resourceEventSchema) }, { subject: `${topic}-value` }));
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  // w0..w2 two hours ago, w3..w5 now.
  const messages = await Promise.all(
    labels.map(async (l, i) => ({ key: `w${i}`, value: await registry.encode(schemaId, { ...event(i, `w${i}`), labels: l }), timestamp: String(i < 3 ? oldAt + i : Date.now()) })),
  );
  await producer.send({ topic, messages, acks: -1 });
  await producer.send({
    topic: dlq,
    acks: -1,
    messages: [
      { key: 'w9', value: Buffer.from([0, 0, 0, 0]), headers: { [DLQ_HEADERS.reason]: 'invalid-wire-format', [DLQ_HEADERS.error]: 'shorter than 5 bytes', [DLQ_HEADERS.topic]: topic, [DLQ_HEADERS.partition]: '0', [DLQ_HEADERS.offset]: '7' } },
      { key: 'w1', value: messages[1]?.value ?? null, headers: { [DLQ_HEADERS.reason]: 'process-error', [DLQ_HEADERS.error]: 'boom', [DLQ_HEADERS.topic]: topic, [DLQ_HEADERS.partition]: '1', [DLQ_HEADERS.offset]: '3' } },
    ],
  });
  await producer.send({ topic: state, acks: -1, messages: [{ key: 's/checkpoint/*', value: JSON.stringify({ resourceVersion: '42', selection: 'x', producer: 'p', at: 1 }) }, { key: 's/object/u1', value: null }] });
  await producer.disconnect();
});

describe('kubetrail subscribe', () => {
  it('prints every record with key, partition, offset, timestamp, headers and schema id, and exits at the end (--until end)', async () => {
    const groupsBefore = (await admin.listGroups()).groups.map((g) => g.groupId);
    const { stdout, stderr } = await subscribe([topic, '--until', 'end']);
    const records = lines(stdout);
    assert.deepEqual(names(records), ['w0', 'w1', 'w2', 'w3', 'w4', 'w5']);
    for (const r of records) {
      assert.equal(r.topic, topic);
      assert.equal(r.key, r.value.name);
      assert.equal(r.schemaId, schemaId);
      assert.ok(r.partition === 0 || r.partition === 1);
      assert.ok(Number.isInteger(r.offset));
      assert.ok(!Number.isNaN(Date.parse(r.timestamp)));
      assert.deepEqual(r.headers, {});
    }
    assert.equal(stderr, '', 'nothing on stderr');
    const groupsAfter = (await admin.listGroups()).groups.map((g) => g.groupId);
    assert.deepEqual(groupsAfter.filter((g) => !groupsBefore.includes(g)), [], 'no consumer group left behind');
  });

  it('starts at an offset, at -N per partition, at a time, --since a duration; stops at a time; reads one partition', async () => {
    const all = lines((await subscribe([topic, '--until', 'end'])).stdout);
    const lastPerPartition = [0, 1].map((p) => all.filter((r) => r.partition === p).at(-1)?.value.name).filter(Boolean).sort();
    assert.deepEqual(names(lines((await subscribe([topic, '--from', '-1', '--until', 'end'])).stdout)), lastPerPartition);
    const fromOne = all.filter((r) => r.offset >= 1);
    assert.deepEqual(names(lines((await subscribe([topic, '--from', '1', '--until', 'end'])).stdout)), names(fromOne));
    assert.deepEqual(names(lines((await subscribe([topic, '--since', '90m', '--until', 'end'])).stdout)), ['w3', 'w4', 'w5']);
    assert.deepEqual(names(lines((await subscribe([topic, '--from', new Date(hourAgo).toISOString(), '--until', 'end'])).stdout)), ['w3', 'w4', 'w5']);
    assert.deepEqual(names(lines((await subscribe([topic, '--until', new Date(hourAgo).toISOString()])).stdout)), ['w0', 'w1', 'w2']);
    assert.deepEqual(names(lines((await subscribe([topic, '-p', '1', '--until', 'end'])).stdout)), names(all.filter((r) => r.partition === 1)));
    assert.deepEqual(lines((await subscribe([topic, '--from', 'end', '--until', 'end'])).stdout), []);
  });

  it('filters with repeatable kubectl selectors, set-based included', async () => {
    assert.deepEqual(names(lines((await subscribe([topic, '--until', 'end', '-l', 'team in (a,b)'])).stdout)), ['w0', 'w1', 'w3', 'w4']);
    assert.deepEqual(names(lines((await subscribe([topic, '--until', 'end', '-l', 'team in (a,b)', '-l', '!x'])).stdout)), ['w0', 'w1', 'w4']);
    assert.deepEqual(names(lines((await subscribe([topic, '--until', 'end', '-l', 'team!=a,team'])).stdout)), ['w1', 'w2', 'w4']);
    assert.deepEqual(names(lines((await subscribe([topic, '--until', 'end', '-l', '!team'])).stdout)), ['w5']);
  });

  it('prints yaml, a table, a wide table and the bare values', async () => {
    const yaml = (await subscribe([topic, '--until', 'end', '-o', 'yaml'])).stdout;
    const documents = parseAllDocuments(yaml).map((d) => d.toJS() as JsonRecord);
    assert.deepEqual(names(documents), ['w0', 'w1', 'w2', 'w3', 'w4', 'w5']);
    const table = (await subscribe([topic, '--until', 'end', '-o', 'table'])).stdout.trim().split('\n');
    assert.match(table[0] ?? '', /^PARTITION +OFFSET +TIMESTAMP +KEY +VALUE$/);
    assert.equal(table.length, 7);
    const wide = (await subscribe([topic, '--until', 'end', '-o', 'wide'])).stdout.trim().split('\n');
    assert.match(wide[0] ?? '', /^PARTITION +OFFSET +TIMESTAMP +SCHEMA +HEADERS +KEY +VALUE$/);
    assert.ok(wide.slice(1).every((row) => row.includes(` ${schemaId} `)), 'the schema id in every row');
    const raw = (await subscribe([topic, '--until', 'end', '-o', 'raw'])).stdout.trim().split('\n').map((l) => parseYaml(l) as { name: string });
    assert.deepEqual(raw.map((v) => v.name).sort(), ['w0', 'w1', 'w2', 'w3', 'w4', 'w5']);
  });

  it('reads dead letters with their reasons (the undecodable one too) and the producer\'s JSON state', async () => {
    const dead = lines((await subscribe([dlq, '--until', 'end'])).stdout);
    assert.deepEqual(dead.map((r) => [r.headers[DLQ_HEADERS.reason], r.key]), [['invalid-wire-format', 'w9'], ['process-error', 'w1']]);
    assert.equal((dead[0] as unknown as { decodeError: string }).decodeError, 'neither the Confluent wire format, JSON nor text');
    assert.equal(dead[1]?.value.name, 'w1');
    const table = (await subscribe([dlq, '--until', 'end', '-o', 'table'])).stdout.trim().split('\n');
    assert.match(table[0] ?? '', /^OFFSET +REASON +SOURCE +DEAD-LETTERED +ERROR$/);
    assert.match(table[1] ?? '', new RegExp(`^0 +invalid-wire-format +${topic.replace(/\./g, '\\.')}\\[0\\]@7 .*shorter than 5 bytes$`));
    assert.match(table[2] ?? '', /^1 +process-error .*boom$/);
    const stateRecords = lines((await subscribe([state, '--until', 'end'])).stdout) as unknown as Array<{ key: string; value: unknown; schemaId: null }>;
    assert.deepEqual(stateRecords.map((r) => [r.key, r.value, r.schemaId]), [['s/checkpoint/*', { resourceVersion: '42', selection: 'x', producer: 'p', at: 1 }, null], ['s/object/u1', null, null]]);
  });

  it('reads as a named consumer group only when asked (--group), going on where it left off', async () => {
    const group = `${base}-reader`;
    const first = lines((await subscribe([topic, '--group', group, '--until', 'end'])).stdout);
    assert.deepEqual(names(first), ['w0', 'w1', 'w2', 'w3', 'w4', 'w5']);
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    assert.deepEqual(
      committed?.partitions.map((p) => [p.partition, p.offset]).sort(),
      ends.map((p) => [p.partition, p.high]).sort(),
      'its offsets committed at the end',
    );
    assert.deepEqual(lines((await subscribe([topic, '--group', group, '--until', 'end'])).stdout), [], 'a second run starts where the first ended');
    await admin.deleteGroups([group]);
  });

  it('follows new records until --max is reached', async () => {
    const child = spawn(process.execPath, [...cliArgs, 'subscribe', topic, '--from', 'end', '--max', '2'], { cwd: cliRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // It says on stderr when it has found where to start and follows; records written after that are new to it.
    await new Promise<void>((resolve) => child.stderr.on('data', (c: Buffer) => (stderr += c.toString()).includes('following') && resolve()));
    assert.match(stderr, new RegExp(`^following ${topic.replace(/\./g, '\\.')} from the end \\(Ctrl-C stops\\)\n$`));
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: await Promise.all(['f1', 'f2'].map(async (n) => ({ key: n, value: await registry.encode(schemaId, event(1, n)) }))) });
    await producer.disconnect();
    assert.equal(await exited, 0, stderr);
    assert.deepEqual(names(lines(stdout)), ['f1', 'f2']);
  });

  it('fails fast and plainly (exit 1, one line) when Kafka or the registry cannot be reached', async () => {
    const noKafka = await runCli(['subscribe', topic, '--kafka-brokers', '127.0.0.1:1', '--until', 'end']);
    assert.equal(noKafka.code, 1, noKafka.stderr);
    assert.equal(noKafka.stdout, '');
    assert.match(noKafka.stderr, /^kubetrail: cannot reach Kafka at 127\.0\.0\.1:1: .*\n$/);
    const noRegistry = await runCli(['subscribe', topic, '--schema-registry-url', 'http://127.0.0.1:1', '--until', 'end']);
    assert.equal(noRegistry.code, 1, noRegistry.stderr);
    assert.match(noRegistry.stderr, /^kubetrail: Schema Registry http:\/\/127\.0\.0\.1:1 did not answer .*ECONNREFUSED.*\n$/);
    const noTopic = await runCli(['subscribe', `${base}.missing`, '--until', 'end']);
    assert.equal(noTopic.code, 1, noTopic.stderr);
    assert.match(noTopic.stderr, /topic '.*\.missing' does not exist/);
  });
});
