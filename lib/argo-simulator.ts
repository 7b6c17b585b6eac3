// Moved to stack/argo-simulator.ts (a development and test tool, not shipped). This re-export is
// only for bench/, which still imports the old path; delete it once bench/ imports the new one.
// Not in the image: .dockerignore leaves it out.
export * from '../stack/argo-simulator.js';
