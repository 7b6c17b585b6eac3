// What a transactional producer's errors mean, in one table. kafkajs wraps the broker's error
// (a KafkaJSProtocolError with its `type`) in retry and transaction errors; the chain is walked.
//
//   fenced            another producer with our transactionalId took over (a newer epoch): we
//                     are the zombie; whatever we had in flight is aborted by the broker.
//   needs a new one   the producer's own state is broken for good, though nobody took over:
//                     after a partition leader moved (a broker lost or restarted) the broker
//                     may answer OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID to a
//                     retried batch, and kafkajs has no way to reset its sequence numbers
//                     (kafkajs#1416, #1305). Only a fresh producer (initTransactions again) cures it.
type ErrorChain = { type?: unknown; message?: unknown; cause?: unknown; originalError?: unknown } | undefined;

/** A newer producer epoch of our transactionalId exists: another producer initialised it, or the broker bumped it (a transaction past its timeout). */
const epochTypes = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);
const fencedTypes = new Set([...epochTypes, 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);
const brokenProducerTypes = new Set([...fencedTypes, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_ID_MAPPING', 'INVALID_TXN_STATE']);

/** The broker error types in an error and its causes, outermost first. */
export function kafkaErrorTypes(error: unknown): string[] {
  const types: string[] = [];
  for (let e = error as ErrorChain, depth = 0; e && depth < 10; depth++) {
    if (typeof e.type === 'string') types.push(e.type);
    e = (e.cause ?? e.originalError) as ErrorChain;
  }
  return types;
}

/** The broker's epoch error in an error's chain (INVALID_PRODUCER_EPOCH or PRODUCER_FENCED), if any. */
export function epochErrorType(error: unknown): string | undefined {
  return kafkaErrorTypes(error).find((type) => epochTypes.has(type));
}

/** Kafka says another producer with our transactionalId took over. */
export function isFencedError(error: unknown): boolean {
  for (let e = error as ErrorChain, depth = 0; e && depth < 10; depth++) {
    if (typeof e.type === 'string' && fencedTypes.has(e.type)) return true;
    if (typeof e.message === 'string' && /fenced|epoch/i.test(e.message) && e.type !== undefined) return true;
    e = (e.cause ?? e.originalError) as ErrorChain;
  }
  return false;
}

/** The producer cannot go on, but a new one (with initTransactions) can: fenced, or its sequence state is broken. */
export function needsNewProducer(error: unknown): boolean {
  return isFencedError(error) || kafkaErrorTypes(error).some((type) => brokenProducerTypes.has(type));
}
