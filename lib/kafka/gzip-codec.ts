// kafkajs' gzip codec, with zlib's output handed over in pieces of up to 1 MiB instead of Node's
// default 16 KiB. zlib runs on libuv's thread pool but stops after each output piece until the
// main thread takes it, so kafkajs' own codec (util.promisify(zlib.unzip), defaults) needs one
// main-thread turn per 16 KiB: a 10 MiB fetch of the gzipped raw topic (~77 MB of objects) is
// ~4,700 turns, read one record batch after another. On an idle thread that is 5× slower than
// 1 MiB pieces; behind a processor's work it took ~600 ms a fetch (BENCHMARKS.md, "gzip in 1 MiB
// pieces"). A piece is one buffer zlib allocates up front, so it is sized to the expected output:
// a single record's batch (the live pipeline's usual case) does not cost a 1 MiB buffer.
// Registered through kafkajs' public CompressionCodecs, as codec plugins are; lib/kafka/client.ts
// installs it.
//
// Benchmarking switch, not for production: KUBETRAIL_KAFKAJS_STOCK_GZIP=1 in the environment
// keeps kafkajs' own codec, so bench/throughput.ts measures the runner before in the same run.
import { promisify } from 'node:util';
import { gzip, unzip, type ZlibOptions } from 'node:zlib';
import kafkajs from 'kafkajs';

/** The largest piece of output zlib produces before the main thread must take it. */
export const GZIP_CHUNK_BYTES = 1024 * 1024;
const MIN_CHUNK_BYTES = 16 * 1024;
/** Raw Argo objects gzip about 8:1 (BENCHMARKS.md F4): room for the whole output in one piece. */
const EXPANSION = 8;

const gzipAsync = promisify<Buffer, ZlibOptions, Buffer>(gzip);
const unzipAsync = promisify<Buffer, ZlibOptions, Buffer>(unzip);

/** A piece big enough for `expected` bytes of output, a power of two between 16 KiB and 1 MiB. */
export function chunkSizeFor(expected: number): number {
  let size = MIN_CHUNK_BYTES;
  while (size < expected && size < GZIP_CHUNK_BYTES) size *= 2;
  return size;
}

export const gzipCodec = {
  compress: (encoder: { buffer: Buffer }): Promise<Buffer> => gzipAsync(encoder.buffer, { chunkSize: chunkSizeFor(encoder.buffer.length) }),
  decompress: (buffer: Buffer): Promise<Buffer> => unzipAsync(buffer, { chunkSize: chunkSizeFor(buffer.length * EXPANSION) }),
};

const stockGzip = process.env.KUBETRAIL_KAFKAJS_STOCK_GZIP === '1';

/** Makes gzipCodec kafkajs' gzip codec (unless the benchmarking switch is set); calling it again changes nothing. */
export function installGzipCodec(): void {
  if (stockGzip) return;
  // kafkajs is CommonJS: its named exports reach ESM only through the default import.
  const codecs = kafkajs.CompressionCodecs as unknown as Record<number, () => unknown>;
  codecs[kafkajs.CompressionTypes.GZIP] = () => gzipCodec;
}
