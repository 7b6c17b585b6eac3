// The logger of an interactive command (subscribe, dlq, replay, topics): the user reads plain
// lines on stderr and the data on stdout; kafkajs' JSON logs (retriable conditions it recovers
// from, such as "coordinator is loading") are shown only when LOG_LEVEL asks for them.
import { createLogger, type Logger } from '../lib/log.js';

export function commandLogger(name: string): Logger {
  return createLogger(name, process.env.LOG_LEVEL || 'silent');
}
