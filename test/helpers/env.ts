/** Environment variables a test sets for the code under test, put back when it ends. */
import type { Test } from 'tap';

/** Puts each of `names` back as it is now (set, or unset) when test `t` ends. */
export function restoreEnv(t: Test, names: string[]): void {
  const saved = names.map((k) => [k, process.env[k]] as const);
  t.teardown(() => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}
