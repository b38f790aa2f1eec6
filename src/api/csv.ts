// CSV per RFC 4180: a header row, CRLF line ends, and a field quoted (quotes doubled) when it holds a comma, a quote,
// CR or LF. null and undefined are empty fields.

export type CsvValue = string | number | boolean | null | undefined;

export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The whole document: `columns` as the header, then one line per row with the values of those keys. */
export function toCsv<K extends string, T extends { [P in K]: CsvValue }>(columns: readonly K[], rows: readonly T[]): string {
  const line = (values: CsvValue[]) => values.map(csvField).join(',') + '\r\n';
  return line([...columns]) + rows.map((row) => line(columns.map((c) => row[c]))).join('');
}
