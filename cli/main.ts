#!/usr/bin/env node
// kubetrail: one command for the services, the tools and the local stack.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../lib/config.js';
import { redactText } from '../lib/redact.js';
import { registerStackCommand } from './stack.js';
import { registerProduceCommand } from './produce.js';
import { registerProcessCommand } from './process.js';
import { registerSinkCommand } from './sink.js';
import { registerSubscribeCommand } from './subscribe.js';
import { registerTopicsCommand } from './topics.js';
import { registerSchemasCommand } from './schemas.js';
import { registerReplayCommand } from './replay.js';
import { registerDemoCommand } from './demo.js';

const program = new Command();
program
  .name('kubetrail')
  .description('Kubernetes resource changes to Kafka, processed exactly once, with Avro schemas')
  .showHelpAfterError()
  .exitOverride();

registerProduceCommand(program);
registerProcessCommand(program);
registerSinkCommand(program);
registerSubscribeCommand(program);
registerTopicsCommand(program);
registerSchemasCommand(program);
registerReplayCommand(program);
registerDemoCommand(program);
registerStackCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  // Conventional exit codes: 2 for bad usage or configuration, 1 for a failure at run time.
  const usage = error instanceof ConfigError;
  process.stderr.write(`kubetrail: ${redactText(error instanceof Error ? error.message : String(error))}\n`);
  process.exit(usage ? 2 : 1);
}
