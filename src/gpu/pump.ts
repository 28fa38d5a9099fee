// Dawn's event pump in Node, made to wait without taking a core. While any of its promises is
// pending (mapAsync, onSubmittedWorkDone, pipeline creation), dawn.node polls the device from a
// native callback it hands to the global setImmediate, which schedules itself again at once: a
// busy loop on the main thread for as long as the GPU works. On a software adapter that loop takes
// a core from the driver's own threads: on this 2-core machine a fused two-pixel training step
// went from 15.7 to 9.6 ms when the loop was slowed (bench/README.md). So the native callback
// runs at once for the first SPIN_MS of a wait (short waits keep their latency), then once per
// millisecond. Every other setImmediate is passed through untouched.

/** How long a wait polls at full speed before polling once per millisecond. */
const SPIN_MS = 0.5;

export interface PumpStats {
  /** Native polls run at once (the first SPIN_MS of each wait). */
  immediate: number;
  /** Native polls deferred by a millisecond timer. */
  deferred: number;
}

const stats: PumpStats = { immediate: 0, deferred: 0 };
let installed = false;

const isNative = (fn: unknown): fn is (...args: unknown[]) => void =>
  typeof fn === 'function' && Function.prototype.toString.call(fn).endsWith('{ [native code] }');

/** Counts of the native polls so far (tests check that a long wait is mostly deferred). */
export function pumpStats(): PumpStats {
  return { ...stats };
}

/** Installs the throttled pump once per process (getNodeGpu calls it). */
export function installEventPump(): void {
  if (installed) return;
  installed = true;
  const immediate = globalThis.setImmediate;
  const passOn = immediate as unknown as (...args: unknown[]) => unknown;
  let inPoll = false;
  let waitStart = 0;
  const throttled = (fn: unknown, ...args: unknown[]) => {
    if (!isNative(fn)) return passOn(fn, ...args);
    // A poll scheduled from inside a poll continues the same wait; any other starts a new one.
    const now = performance.now();
    if (!inPoll) waitStart = now;
    const poll = () => {
      inPoll = true;
      try {
        fn(...args);
      } finally {
        inPoll = false;
      }
    };
    if (now - waitStart < SPIN_MS) {
      stats.immediate++;
      return immediate(poll);
    }
    stats.deferred++;
    return setTimeout(poll, 1);
  };
  globalThis.setImmediate = Object.assign(throttled, {
    __promisify__: immediate.__promisify__,
  }) as unknown as typeof setImmediate;
}
