// What both adapters' SQL builders share.

/** Which of a tenant's events a query by tenant reads: its company (all when absent), an inclusive range of creation. */
export interface EventRange {
  companyId?: number;
  startDate?: number;
  endDate?: number;
}

/** `columns`, a comma-separated list, each as a column of `alias` (for a join, where a bare name may be ambiguous). */
export const qualified = (alias: string, columns: string): string =>
  columns
    .split(',')
    .map((column) => `${alias}.${column.trim()}`)
    .join(', ');
