// Runs a service until SIGTERM or SIGINT, then stops it within a deadline (Kubernetes' default
// grace period is 30 s), so a container stops cleanly and a hung shutdown still ends.
import type { Logger } from '../lib/log.js';

export async function untilSignal(logger: Logger, stop: () => Promise<void>, deadlineMs = 25_000): Promise<void> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down');
  const deadline = setTimeout(() => {
    logger.error('shutdown took too long: exiting');
    process.exit(1);
  }, deadlineMs);
  deadline.unref();
  await stop();
  clearTimeout(deadline);
}
