// Terminal output for the CLI: aligned tables and status colours (only on a TTY, and never with NO_COLOR).
const useColour = process.stdout.isTTY && !('NO_COLOR' in process.env);

const COLOURS: Record<string, number> = {
  SUCCESS: 32, active: 32,
  PENDING: 36,
  FAILED: 33, RESYNC: 33, inactive: 33,
  DISABLED: 31, FILTER_ERROR: 31, blocked: 31,
};

export const colourStatus = (status: string): string =>
  useColour && COLOURS[status] ? `\u001b[${COLOURS[status]}m${status}\u001b[0m` : status;

const visible = (s: string) => s.replace(/\u001b\[\d+m/g, '').length;

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(widths[i]! - visible(c))).join('  ').trimEnd();
  process.stdout.write(`${line(header)}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}
