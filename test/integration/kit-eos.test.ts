// Exactly once under kill -9: a processor in a child process is killed with SIGKILL at random
// moments while records keep arriving, and restarted each time. Every input record must give
// exactly one output (by id), and the per-name counts kept in state must run 1..n without a gap
// or a repeat (a lost state write would restart a count; a repeated record would repeat one).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testConnection, uniqueName } from '../support/services.js';
import { ProcessorChild, RawWriter, createTopic, event, readTopic, readTopicToEnd, kafkaTestbed } from '../support/kit-helpers.js';
import { counterProcessor, type Counted } from '../support/kit-processors.js';
import { runProcessor } from '../../lib/kit/runner.js';
import { quietLogger } from '../support/kit-helpers.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups } = kafkaTestbed(connection);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('exactly once under SIGKILL', () => {
  it('neither loses nor repeats an output, and keeps state, across repeated kill -9 and restart', async () => {
    const base = uniqueName('kit-eos');
    const input = `${base}.raw`;
    const counted = `${base}.counted`;
    const group = `${base}-g`;
    await createTopic(admin, input, 3);
    await createTopic(admin, counted, 3);
    const writer = await RawWriter.open(kafka, registry, input);
    cleanups.push(() => writer.close());

    const total = 4_000;
    const entities = Array.from({ length: 12 }, (_, i) => `wf-${i}`);
    const events = Array.from({ length: total }, (_, i) => event(i, entities[(i * 7) % entities.length]!, i % 3));

    // Half the records are waiting when the processor first starts; the rest keep arriving.
    let written = 0;
    while (written < total / 2) {
      await writer.write(events.slice(written, written + 500));
      written += 500;
    }
    const writing = (async () => {
      while (written < total) {
        const slice = events.slice(written, written + 50);
        await writer.write(slice);
        written += slice.length;
        await sleep(100);
      }
    })();

    // Committed outputs so far, watched live (read_committed), to kill the processor mid-stream.
    let committed = 0;
    const watcher = kafka.consumer({ groupId: `${base}-watch`, readUncommitted: false, maxWaitTimeInMs: 100 });
    cleanups.push(() => watcher.disconnect());
    await watcher.connect();
    await watcher.subscribe({ topic: counted, fromBeginning: true });
    await watcher.run({ eachBatch: async ({ batch }) => void (committed += batch.messages.length) });

    const spec = {
      processor: 'kit-counter',
      options: {
        groupId: group,
        topics: { input, outputs: { counted, names: `${base}.names` } },
        sessionTimeoutMs: 6_000,
        // Small transactions: many commit points for a kill to fall between.
        maxBatchRecords: 10,
        concurrency: 3,
      },
    };
    const kills: Array<{ committed: number; written: number }> = [];
    for (const [round, fraction] of [0.1 + Math.random() * 0.15, 0.35 + Math.random() * 0.15, 0.6 + Math.random() * 0.15].entries()) {
      const startedAt = Date.now();
      const child = new ProcessorChild(connection, spec);
      cleanups.push(() => child.kill());
      await child.ready;
      const readyAt = Date.now();
      const target = Math.floor(total * fraction);
      const began = Date.now();
      while (committed < target && Date.now() - began < 20_000) await sleep(5);
      await sleep(Math.random() * 30);
      await child.kill('SIGKILL');
      kills.push({ committed, written });
      if (process.env.KIT_DEBUG) console.error('kill', round, { committed, target, written, readyMs: readyAt - startedAt, waitMs: Date.now() - began });
    }
    await writing;
    const last = new ProcessorChild(connection, spec);
    cleanups.push(() => last.kill());
    await last.ready;

    await readTopic<Counted>(kafka, registry, counted, { expected: total, timeoutMs: 40_000 });
    await last.kill('SIGTERM');
    const exit = await last.exited;
    // Every writer has stopped: the topic holds exactly what will ever be committed there.
    const outputs = await readTopicToEnd<Counted>(kafka, registry, counted);

    const ids = new Map<string, number>();
    for (const o of outputs) ids.set(o.key!, (ids.get(o.key!) ?? 0) + 1);
    const missing = events.filter((e) => !ids.has(e.id)).map((e) => e.id);
    const repeated = [...ids].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(missing, [], `lost outputs (kills: ${JSON.stringify(kills)})`);
    assert.deepEqual(repeated, [], 'repeated outputs');
    assert.equal(outputs.length, total);
    for (const [i, kill] of kills.entries()) {
      assert.ok(kill.committed > 0 && kill.committed < total, `kill ${i + 1} fell mid-stream (${JSON.stringify(kills)})`);
    }

    const perEntity = new Map<string, number[]>();
    for (const o of outputs) {
      const list = perEntity.get(o.value!.entity) ?? [];
      list.push(o.value!.count);
      perEntity.set(o.value!.entity, list);
    }
    for (const entity of entities) {
      const expected = events.filter((e) => e.name === entity).length;
      const counts = (perEntity.get(entity) ?? []).sort((a, b) => a - b);
      assert.deepEqual(counts, Array.from({ length: expected }, (_, i) => i + 1), `state-kept count of ${entity}`);
    }
    assert.equal(exit.code, 0, 'SIGTERM stops gracefully');
    const dead = await readTopicToEnd(kafka, undefined, `${group}.dlq`);
    assert.equal(dead.length, 0, 'nothing dead-lettered');
  });

  it('hands partitions over exactly once when instances join and leave', async () => {
    const base = uniqueName('kit-rebalance');
    const input = `${base}.raw`;
    const counted = `${base}.counted`;
    await createTopic(admin, input, 4);
    const writer = await RawWriter.open(kafka, registry, input);
    cleanups.push(() => writer.close());
    const total = 3_000;
    const entities = Array.from({ length: 16 }, (_, i) => `wf-${i}`);
    const events = Array.from({ length: total }, (_, i) => event(i, entities[i % entities.length]!, 1));
    let written = 0;
    const writing = (async () => {
      while (written < total) {
        await writer.write(events.slice(written, written + 100));
        written += 100;
        await sleep(50);
      }
    })();
    const options = (instance: string) => ({
      connection: { ...connection, kafkaClientId: instance },
      groupId: `${base}-g`,
      topics: { input, outputs: { counted, names: `${base}.names` } },
      logger: quietLogger(instance),
      handleSignals: false,
      sessionTimeoutMs: 6_000,
      maxBatchRecords: 25,
    });
    const a = await runProcessor(counterProcessor(), options('a'));
    cleanups.push(() => a.stop());
    while (a.stats().recordsIn < 300) await sleep(20);
    const b = await runProcessor(counterProcessor(), options('b'));
    cleanups.push(() => b.stop());
    while (b.stats().recordsIn < 300) await sleep(20);
    const c = await runProcessor(counterProcessor(), options('c'));
    cleanups.push(() => c.stop());
    while (c.stats().recordsIn < 100 && written < total) await sleep(20);
    await a.stop();
    await writing;
    while (b.stats().recordsIn + c.stats().recordsIn + a.stats().recordsIn < total) await sleep(50);
    const processedBy = { a: a.stats().recordsIn, b: b.stats().recordsIn, c: c.stats().recordsIn };
    await Promise.all([b.stop(), c.stop()]);

    const outputs = await readTopicToEnd<Counted>(kafka, registry, counted);
    const ids = new Set(outputs.map((o) => o.key));
    assert.equal(ids.size, total, 'every input has its output');
    assert.equal(outputs.length, total, `no output repeated (processed by ${JSON.stringify(processedBy)})`);
    assert.ok(processedBy.a > 0 && processedBy.b > 0 && processedBy.c > 0, 'all three instances worked');
    const perEntity = new Map<string, number[]>();
    for (const o of outputs) perEntity.set(o.value!.entity, [...(perEntity.get(o.value!.entity) ?? []), o.value!.count]);
    for (const entity of entities) {
      const n = events.filter((e) => e.name === entity).length;
      assert.deepEqual((perEntity.get(entity) ?? []).sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i + 1), `count of ${entity}`);
    }
  });
});
