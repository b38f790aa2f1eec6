// SQL text shared by both adapters.

/** `columns`, a comma-separated list, each as a column of `alias` (for a join, where a bare name may be ambiguous). */
export const qualified = (alias: string, columns: string): string =>
  columns
    .split(',')
    .map((column) => `${alias}.${column.trim()}`)
    .join(', ');
