// lib/kafka/gzip-codec.ts: kafkaClient() makes it kafkajs' gzip codec; it reads what kafkajs' own
// codec wrote and the other way round, byte for byte; and zlib hands its output over in 1 MiB
// pieces, so a record batch of a real raw topic costs the main thread a few turns, not hundreds.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import kafkajs from 'kafkajs';
import { chunkSizeFor, GZIP_CHUNK_BYTES, gzipCodec } from '../../lib/kafka/gzip-codec.js';
import { kafkaClient } from '../../lib/kafka/client.js';

const require = createRequire(import.meta.url);
/** kafkajs' own codec module, as kafkajs ships it. */
const stock = require('kafkajs/src/protocol/message/compression/gzip.js') as { compress(e: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };

/** The 67 real Argo objects, eight times over (~4 MB): the size of a raw-topic fetch's record batches. */
function fixtureBatch(): Buffer {
  const dir = new URL('../fixtures/argo-workflows/workflows/', import.meta.url).pathname;
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  assert.equal(files.length, 67);
  const objects = Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
  return Buffer.concat(Array.from({ length: 8 }, () => objects));
}

describe('gzip codec', () => {
  it('is kafkajs gzip codec once a client is made', () => {
    kafkaClient({ brokers: ['127.0.0.1:1'] });
    const codecs = kafkajs.CompressionCodecs as unknown as Record<number, () => unknown>;
    assert.equal(codecs[kafkajs.CompressionTypes.GZIP]!(), gzipCodec);
  });

  it('reads what kafkajs wrote and writes what kafkajs reads, byte for byte', async () => {
    const batch = fixtureBatch();
    assert.ok(batch.length > 2 * GZIP_CHUNK_BYTES, `a batch of several MiB (${batch.length} bytes)`);
    assert.deepEqual(await gzipCodec.decompress(await stock.compress({ buffer: batch })), batch);
    assert.deepEqual(await stock.decompress(await gzipCodec.compress({ buffer: batch })), batch);
    assert.deepEqual(await gzipCodec.decompress(await gzipCodec.compress({ buffer: Buffer.alloc(0) })), Buffer.alloc(0));
  });

  it('rejects a corrupt or cut-off batch, as kafkajs\' own codec does (the fetch fails; nothing is made up)', async () => {
    const compressed = await stock.compress({ buffer: fixtureBatch() });
    const corrupt = Buffer.from(compressed);
    corrupt.fill(0x55, 100, 400);
    for (const bad of [corrupt, compressed.subarray(0, compressed.length >> 1), Buffer.from('not gzip')]) {
      const theirs = await stock.decompress(bad).then(() => 'resolved', (error: Error & { code?: string }) => error.code);
      assert.ok(theirs?.startsWith('Z_'), `kafkajs' codec rejects it (${theirs})`);
      await assert.rejects(gzipCodec.decompress(bad), (error: Error & { code?: string }) => error.code === theirs);
    }
  });

  it('sizes a piece to the output expected, from 16 KiB to 1 MiB', () => {
    assert.deepEqual([0, 16_384, 16_385, 46_000 * 8, 10_000_000].map(chunkSizeFor), [16_384, 16_384, 32_768, 524_288, GZIP_CHUNK_BYTES]);
  });

  it('hands the output of a large batch over in 1 MiB pieces', async () => {
    const batch = fixtureBatch();
    const compressed = await stock.compress({ buffer: batch });
    // Each piece zlib hands over is pushed by its stream on the main thread: count the pushes.
    const proto = zlib.Unzip.prototype as unknown as { push: (...args: unknown[]) => boolean };
    const push = proto.push;
    let pieces = 0;
    proto.push = function (this: unknown, ...args: unknown[]) {
      if (args[0] !== null) pieces++;
      return push.apply(this, args);
    };
    try {
      const count = async (decompress: () => Promise<Buffer>) => {
        pieces = 0;
        assert.deepEqual(await decompress(), batch);
        return pieces;
      };
      assert.equal(await count(() => gzipCodec.decompress(compressed)), Math.ceil(batch.length / GZIP_CHUNK_BYTES));
      assert.equal(await count(() => stock.decompress(compressed)), Math.ceil(batch.length / 16_384), "kafkajs' own codec: 16 KiB pieces");
    } finally {
      proto.push = push;
    }
  });
});
