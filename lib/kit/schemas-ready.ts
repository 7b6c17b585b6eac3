// Waiting for the Schema Registry. A record whose schema id the decoder has not seen needs the
// registry; when it does not answer, the partition waits (heartbeating, so the group keeps it)
// and retries with backoff, and nothing is dead-lettered because of it. A stop ends the wait.
import type { Logger } from '../log.js';
import { Backoff, sleep } from '../async.js';
import { TransientError, type WireDecoder } from '../kafka/codec.js';

/** Thrown out of a partition's work when stop() interrupts a restore or a wait; not an error. */
export class StopRequested extends Error {
  override name = 'StopRequested';
}

/** What long waits inside a partition's work check and call. */
export interface Interruption {
  heartbeat: () => Promise<void>;
  stopping: () => boolean;
}

/** Resolves once the decoder knows every schema id of these values (registry outages waited out). */
export async function awaitSchemas(decoder: WireDecoder<unknown>, values: Iterable<Buffer | null>, interruption: Interruption, logger: Logger): Promise<void> {
  const list = [...values];
  const backoff = new Backoff({ initialMs: 250, maxMs: 5_000 });
  for (let attempt = 1; ; attempt++) {
    try {
      await decoder.prepare(list);
      if (attempt > 1) logger.info({ attempts: attempt }, 'Schema Registry answers again');
      return;
    } catch (error) {
      if (!(error instanceof TransientError)) throw error;
      if (attempt === 1 || attempt % 10 === 0) logger.warn({ err: error.message, attempt }, 'Schema Registry cannot answer for a schema id yet (unreachable, or 404 while it loads); retrying the batch, nothing is dead-lettered for this');
      if (interruption.stopping()) throw new StopRequested();
      await sleep(backoff.next());
      await interruption.heartbeat();
    }
  }
}
