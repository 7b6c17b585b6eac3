import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chunkBySize, messageBytes, splitTopicMessages, RECORD_OVERHEAD } from '../../lib/kafka/batching.js';
import { Backoff, SerialQueue, retry, sleep } from '../../lib/async.js';

describe('batching', () => {
  it('chunkBySize keeps order, bounds each run, and puts oversized or lone items alone', () => {
    const items = [400, 400, 400, 2000, 100, 100, 50];
    assert.deepEqual(chunkBySize(items, (n) => n, 1000), [[400, 400], [400], [2000], [100, 100, 50]]);
    assert.deepEqual(chunkBySize(items, (n) => n, 1000, (n) => n === 100), [[400, 400], [400], [2000], [100], [100], [50]]);
    assert.deepEqual(chunkBySize([], (n: number) => n, 10), []);
  });

  it('splitTopicMessages splits across topics under the limit, in order', () => {
    const m = (size: number) => ({ key: null, value: Buffer.alloc(size - RECORD_OVERHEAD) });
    assert.equal(messageBytes(m(300)), 300);
    const parts = splitTopicMessages([{ topic: 'a', messages: [m(300), m(300)] }, { topic: 'b', messages: [m(300), m(300)] }, { topic: 'c', messages: [m(900)] }], 700);
    assert.deepEqual(
      parts.map((part) => part.map((t) => `${t.topic}:${t.messages.length}`)),
      [['a:2'], ['b:2'], ['c:1']],
    );
    assert.deepEqual(splitTopicMessages([{ topic: 'a', messages: [m(100)] }, { topic: 'b', messages: [m(100)] }], 700).map((p) => p.map((t) => t.topic)), [['a', 'b']]);
  });
});

describe('async helpers', () => {
  it('Backoff grows by its factor up to its maximum, with bounded jitter, and resets', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 500, factor: 2, jitter: 0.2 });
    const delays = Array.from({ length: 5 }, () => backoff.next());
    const bases = [100, 200, 400, 500, 500];
    delays.forEach((d, i) => assert.ok(d >= bases[i]! * 0.8 && d <= bases[i]! * 1.2, `delay ${i}: ${d}`));
    backoff.reset();
    assert.ok(backoff.next() <= 120);
  });

  it('retry retries until success, stops on a non-retriable error, and gives up at its deadline', async () => {
    let calls = 0;
    assert.equal(await retry(async () => (++calls < 3 ? Promise.reject(new Error('no')) : 'yes'), { initialMs: 1 }), 'yes');
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(retry(async () => { calls++; throw new Error('fatal'); }, { initialMs: 1, retriable: () => false }), /fatal/);
    assert.equal(calls, 1);
    await assert.rejects(retry(async () => { throw new Error('late'); }, { initialMs: 20, timeoutMs: 50 }), /late/);
  });

  it('sleep ends early on abort; SerialQueue runs one at a time, in order, past failures', async () => {
    const controller = new AbortController();
    const began = Date.now();
    const slept = sleep(10_000, controller.signal);
    controller.abort();
    await slept;
    assert.ok(Date.now() - began < 1_000);
    const queue = new SerialQueue();
    const order: string[] = [];
    const a = queue.run(async () => { await sleep(20); order.push('a'); });
    const b = queue.run(async () => { order.push('b'); throw new Error('b failed'); });
    const c = queue.run(async () => { order.push('c'); });
    await a;
    await assert.rejects(b, /b failed/);
    await c;
    assert.deepEqual(order, ['a', 'b', 'c']);
  });
});
