// Moved to test/support/producer.ts (test-only helpers). This re-export is only for bench/, which
// still imports the old path; delete it once bench/ imports the new one. Not in the image:
// .dockerignore leaves it out (test/ is not in the build context).
export * from '../test/support/producer.js';
