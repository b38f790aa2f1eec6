// Waiting for the receiver to count every delivery, with a progress line (overwritten on a TTY, periodic otherwise)
// and time-outs that fail the run loudly.
import type { ReceiverHandle } from './receiver-client.ts';

export interface WaitOptions {
  /** Give up after this long in all. */
  timeoutMs: number;
  /** Give up when no new delivery arrived for this long. */
  stallMs: number;
  /** Rejects when the run's own machinery failed (publisher, sender, hookd process). */
  failure?: Promise<never>;
  /** Extra text for the progress line (e.g. events published so far). */
  extra?: () => string;
  /** Date.now() when the deliveries began (the progress line's time and rate count from it); the call's time if not given. */
  since?: number;
}

const POLL_MS = 250;
const PLAIN_EVERY_MS = 5000;

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–';

export async function waitForDeliveries(receiver: ReceiverHandle, expected: number, label: string, options: WaitOptions): Promise<void> {
  const tty = process.stdout.isTTY === true;
  const started = options.since ?? Date.now();
  let lastChange = Date.now();
  let lastUnique = -1;
  let lastPlain = Date.now();
  let failed: Error | undefined;
  options.failure?.catch((err: Error) => (failed = err));
  let width = 0;
  const line = (unique: number) => {
    const seconds = (Date.now() - started) / 1000;
    const pct = ((100 * unique) / expected).toFixed(1);
    const extra = options.extra?.() ?? '';
    return `  ${label}: ${fmt(unique)}/${fmt(expected)} deliveries (${pct} %), ${fmt(unique / Math.max(seconds, 0.001))}/s, ${seconds.toFixed(1)} s${extra ? `, ${extra}` : ''}`;
  };
  const show = (text: string, final: boolean) => {
    if (tty) {
      process.stdout.write(`\r${text.padEnd(width)}${final ? '\n' : ''}`);
      width = text.length;
    } else if (final || Date.now() - lastPlain >= PLAIN_EVERY_MS) {
      process.stdout.write(`${text}\n`);
      lastPlain = Date.now();
    }
  };
  try {
    for (;;) {
      if (failed) throw failed;
      const { unique } = await receiver.count();
      if (unique !== lastUnique) {
        lastUnique = unique;
        lastChange = Date.now();
      }
      if (unique >= expected) {
        show(line(unique), true);
        return;
      }
      show(line(unique), false);
      const nowMs = Date.now();
      if (nowMs - started > options.timeoutMs) throw new Error(`${label}: time-out after ${options.timeoutMs / 1000} s with ${unique}/${expected} deliveries received`);
      if (nowMs - lastChange > options.stallMs) throw new Error(`${label}: no delivery arrived for ${options.stallMs / 1000} s; stuck at ${unique}/${expected}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } catch (err) {
    if (tty && width > 0) process.stdout.write('\n');
    throw err;
  }
}
