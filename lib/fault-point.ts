// Fault points: named places where a test can freeze this process on purpose, to make a zombie at
// an exact moment (records sent, transaction not yet committed) instead of hoping a SIGSTOP from
// outside lands there. KUBETRAIL_FAULT_STOP=<point>:<n> stops the process with SIGSTOP the n-th
// time it passes <point>; the test resumes it with SIGCONT. Unset (always, outside fault tests),
// a fault point is one comparison. The setting is read once, at start-up.
const setting = process.env.KUBETRAIL_FAULT_STOP;

/** The fault points the code has; a typo in KUBETRAIL_FAULT_STOP is refused at start-up. */
export const faultPoints = ['before-commit'] as const;
export type FaultPoint = (typeof faultPoints)[number];

function parse(value: string | undefined): { point: FaultPoint; at: number } | undefined {
  if (!value) return undefined;
  const match = /^([a-z-]+):([1-9][0-9]*)$/.exec(value);
  if (!match || !(faultPoints as readonly string[]).includes(match[1]!)) {
    throw new Error(`KUBETRAIL_FAULT_STOP must be <point>:<n> with <point> one of ${faultPoints.join(', ')} (got '${value}')`);
  }
  return { point: match[1] as FaultPoint, at: Number(match[2]) };
}

const armed = parse(setting);
let passes = 0;

/** Passing a fault point: freezes the process here when the test asked for it; `partition` goes into the log line. */
export function faultPoint(point: FaultPoint, partition?: number): void {
  if (armed?.point !== point) return;
  passes += 1;
  if (passes === armed.at) {
    process.stderr.write(`${JSON.stringify({ level: 40, time: Date.now(), msg: 'fault point: stopping this process (SIGSTOP)', point, pass: passes, partition })}\n`);
    process.kill(process.pid, 'SIGSTOP');
  }
}
