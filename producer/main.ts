// The producer service's entry point: `npx tsx producer/main.ts` (or `node dist/producer/main.js`),
// configured by environment variables (see docs/producer.md) and optionally a YAML/JSON file named
// by KUBETRAIL_CONFIG. Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 2 for a bad
// configuration, 1 for a failure.
import { ConfigError, readConfigFile } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { loadProducerConfig } from './config.js';
import { startProducer, type ProducerHandle } from './service.js';

const logger = createLogger('producer');

async function main(): Promise<void> {
  const config = loadProducerConfig({ file: readConfigFile(process.env.KUBETRAIL_CONFIG) });
  let handle: ProducerHandle | undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const done = handle ? handle.stop() : Promise.resolve();
    // A hard deadline: Kubernetes' default grace period is 30 s.
    const deadline = setTimeout(() => {
      logger.error('shutdown took too long: exiting');
      process.exit(1);
    }, 25_000);
    deadline.unref();
    done.then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  handle = await startProducer(config, logger);
  if (stopping) await handle.stop().then(() => process.exit(0));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`kubetrail producer: ${error.message}\n`);
    process.exit(2);
  }
  logger.fatal({ err: error }, 'producer failed');
  process.exit(1);
});
