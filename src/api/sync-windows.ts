/**
 * `spec.syncWindows` (ESO 2.9): when periodic refreshes of an ExternalSecret may run.
 *
 * - A window opens at each firing of its `schedule` (src/api/cron.ts, UTC) and stays open for
 *   `duration`, both ends included (ESO: open at 22:00 and still open at 00:00 for `0 22 * * *`
 *   with `2h`, closed a second later).
 * - `kind: allow`: periodic refreshes only while at least one window is open; `kind: deny`: none
 *   while any window is open. No windows, or an unknown kind: always allowed.
 * - A schedule that does not parse is never open (ESO at sync time); admission refuses it.
 * - Only periodic refreshes are gated (refreshPolicy Periodic or unset). A new object, a spec,
 *   label or annotation change (force-sync among them) and a target restored after an edit are
 *   never held back, as in ESO.
 *
 * Beyond ESO, which re-checks on its next requeue, `nextAllowed` says when a blocked refresh can
 * run, so the refresher defers it to the moment the window opens instead of polling.
 */

import { CronError, parseSchedule, type Schedule } from './cron.ts';
import { parseDuration } from './duration.ts';

export interface SyncWindowsSpec {
  kind?: string;
  windows?: { schedule?: string; duration?: string }[];
}

interface Window {
  schedule: Schedule;
  durationMs: number;
}

export interface SyncWindows {
  readonly kind: 'allow' | 'deny';
  /** Whether a periodic refresh may run at `ms`. */
  allowed(ms: number): boolean;
  /**
   * The first instant at or after `ms` when a periodic refresh may run; undefined when none can
   * be found within a year (an allow list whose windows never open, deny windows always open).
   */
  nextAllowed(ms: number): number | undefined;
}

const SECOND = 1000;
const YEAR = 366 * 24 * 3600 * SECOND;
/** Steps of the search for the end of overlapping deny windows (each passes at least one firing). */
const MAX_STEPS = 1000;
/**
 * Window checks one search may make (steps × windows): a tenant's 64 always-open deny windows
 * cost the same bounded work as one, on the refresher's thread.
 */
const MAX_CHECKS = 20_000;

/** The compiled windows of a spec; undefined when the spec restricts nothing. */
export function compileSyncWindows(spec: SyncWindowsSpec | null | undefined): SyncWindows | undefined {
  if (!spec || (spec.kind !== 'allow' && spec.kind !== 'deny')) return undefined;
  const windows: Window[] = [];
  for (const w of spec.windows ?? []) {
    const durationMs = typeof w?.duration === 'string' ? parseDuration(w.duration) : undefined;
    if (durationMs === undefined || typeof w.schedule !== 'string') continue;
    try {
      windows.push({ schedule: parseSchedule(w.schedule), durationMs });
    } catch (err) {
      if (!(err instanceof CronError)) throw err;
    }
  }
  if ((spec.windows ?? []).length === 0) return undefined;
  return spec.kind === 'allow' ? allowWindows(windows) : denyWindows(windows);
}

/** The firing that keeps the window open at `ms`, or undefined when it is closed then. */
function openedAt(w: Window, ms: number): number | undefined {
  const t = Math.floor(ms / SECOND) * SECOND;
  // The first firing at or after t - duration; the window is open when it is not after t.
  const first = w.schedule.next(t - w.durationMs - SECOND);
  return first !== undefined && first <= t ? first : undefined;
}

function allowWindows(windows: Window[]): SyncWindows {
  const allowed = (ms: number) => windows.some((w) => openedAt(w, ms) !== undefined);
  return {
    kind: 'allow',
    allowed,
    nextAllowed(ms) {
      if (allowed(ms)) return ms;
      let best: number | undefined;
      for (const w of windows) {
        const at = w.schedule.next(ms);
        if (at !== undefined && at - ms <= YEAR && (best === undefined || at < best)) best = at;
      }
      return best;
    },
  };
}

function denyWindows(windows: Window[]): SyncWindows {
  const allowed = (ms: number) => windows.every((w) => openedAt(w, ms) === undefined);
  return {
    kind: 'deny',
    allowed,
    nextAllowed(ms) {
      let t = ms;
      const steps = Math.min(MAX_STEPS, Math.ceil(MAX_CHECKS / Math.max(1, windows.length)));
      for (let step = 0; step < steps && t - ms <= YEAR; step++) {
        // The latest close among the windows open now (of the firing found; a later firing
        // that also covers t is passed on the next step). A second after it, check again.
        let close: number | undefined;
        for (const w of windows) {
          const opened = openedAt(w, t);
          if (opened === undefined) continue;
          const end = opened + w.durationMs;
          if (close === undefined || end > close) close = end;
        }
        if (close === undefined) return t;
        t = Math.floor(close / SECOND) * SECOND + SECOND;
      }
      return undefined;
    },
  };
}
