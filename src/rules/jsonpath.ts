// RFC 9535 JSONPath through json-p3: each query compiled once, and read the way filters and reducers need it.
import { jsonpath, type JSONPathQuery } from 'json-p3';

const MAX_CACHED = 10_000;
const cache = new Map<string, JSONPathQuery>();

/** A compiled query, or throws json-p3's error (its message says what and where). */
export function compileQuery(path: string): JSONPathQuery {
  let query = cache.get(path);
  if (!query) {
    query = jsonpath.compile(path);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(path, query);
  }
  return query;
}

/** A singular query gives its value or undefined; any other query gives the array of matched values. */
export function selectValue(query: JSONPathQuery, data: unknown): unknown {
  const nodes = query.query(data as never);
  if (query.singularQuery()) return nodes.nodes[0]?.value;
  return nodes.values();
}

/** json-p3 errors carry a token position; keep the message short and human. */
export function describeQueryError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s+/g, ' ').trim();
}
