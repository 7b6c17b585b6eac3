// Restores a partition's state from its changelog (Kafka Streams' StoreChangelogReader): read
// changelog partition p to its last stable offset without a consumer group, keep the latest value
// per key, and build the store from it. Values written with an older state schema are resolved to
// the current one; a value that cannot be read is dropped with an error in the log (the key starts
// empty) rather than stopping the partition forever.
import type avro from 'avsc';
import type { Logger } from '../log.js';
import type { PartitionReader } from '../kafka/topic-reader.js';
import type { WireDecoder, WireEncoder } from '../kafka/codec.js';
import { PartitionStore, foldChangelog } from './state-store.js';
import { awaitSchemas, StopRequested, type Interruption } from './schemas-ready.js';

export interface StateCodecs {
  type: avro.Type;
  encoder: WireEncoder;
  decoder: WireDecoder<unknown>;
  /** Largest changelog record the changelog topic accepts. */
  maxRecordBytes: number;
}

export class ChangelogRestorer {
  constructor(
    private readonly reader: PartitionReader,
    private readonly changelogTopic: string,
    private readonly codecs: StateCodecs,
    private readonly logger: Logger,
  ) {}

  /** The state of partition p as committed in its changelog; StopRequested when stopped meanwhile. */
  async restore(partition: number, interruption: Interruption): Promise<{ store: PartitionStore<unknown>; records: number }> {
    const latest = new Map<string, Buffer | null>();
    const result = await this.reader.readToEnd(this.changelogTopic, partition, (message) => foldChangelog(latest, message), {
      heartbeat: interruption.heartbeat,
      cancelled: interruption.stopping,
    });
    if (!result.complete) throw new StopRequested();
    await awaitSchemas(this.codecs.decoder, latest.values(), interruption, this.logger);
    const store = new PartitionStore<unknown>(this.codecs.type, this.codecs.encoder, this.codecs.maxRecordBytes);
    const unreadable = store.restore(latest, this.codecs.decoder);
    for (const { key, error } of unreadable) this.logger.error({ partition, key, err: error }, 'state value in the changelog cannot be read; the key starts empty');
    return { store, records: result.records };
  }
}
