// Runs one processor in its own process, for tests that kill it: `tsx test/support/run-processor.ts`
// with KIT_RUN='{"processor":"kit-counter" | "name of a processors/ folder", "options": {...}}'.
// Kafka and the registry come from KAFKA_BROKERS / SCHEMA_REGISTRY_URL. Prints one JSON line per
// event on stdout ({"event":"ready"}, {"event":"stopped","stats":...}); logs go to stderr.
import { pino } from 'pino';
import { connectionSchema } from '../../lib/config.js';
import { runProcessor, type RunProcessorOptions } from '../../lib/kit/runner.js';
import { loadProcessor } from '../../lib/kit/discovery.js';
import type { ProcessorDefinition } from '../../lib/kit/processor.js';
import { counterProcessor, passThroughProcessor } from './kit-processors.js';

interface RunSpec {
  processor: string;
  /** Name the definition gets (kit test processors only). */
  name?: string;
  options?: Omit<RunProcessorOptions, 'connection' | 'logger'>;
}

const spec = JSON.parse(process.env.KIT_RUN ?? '{}') as RunSpec;
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

let definition: ProcessorDefinition<any, any, any>;
if (spec.processor === 'kit-counter') definition = counterProcessor(spec.name);
else if (spec.processor === 'kit-pass') definition = passThroughProcessor(spec.name);
else definition = await loadProcessor(spec.processor);

const connection = connectionSchema.parse({
  kafkaBrokers: process.env.KAFKA_BROKERS,
  schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL,
  kafkaClientId: `kit-child-${process.pid}`,
});
const logger = pino({ name: definition.name, level: process.env.LOG_LEVEL ?? 'warn', base: { pid: process.pid } }, pino.destination(2));

const handle = await runProcessor(definition, { ...spec.options, connection, logger, handleSignals: true });
const timer = setInterval(() => {
  if (handle.ready()) {
    clearInterval(timer);
    say({ event: 'ready', pid: process.pid });
  }
}, 50);
try {
  await handle.done;
  say({ event: 'stopped', stats: handle.stats() });
  process.exit(0);
} catch (error) {
  say({ event: 'failed', error: (error as Error).message });
  process.exit(1);
}
