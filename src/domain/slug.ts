// Event slugs (`category/name/type/vN`) and subscriber patterns, where `*` stands for one whole segment.

const SEGMENT = /^[a-z0-9_-]+$/;
const VERSION = /^v\d+$/;

export interface ParsedSlug {
  category: string;
  name: string;
  type: string;
  version: string;
}

/** Why a published event slug is not valid, or null when it is. */
export function eventSlugProblem(slug: string): string | null {
  const parts = slug.split('/');
  if (parts.length !== 4) return 'must have four segments: category/name/type/vN';
  if (!parts.every((p) => SEGMENT.test(p))) return 'segments may hold only a-z, 0-9, _ and -';
  if (!VERSION.test(parts[3]!)) return 'the last segment must be a version such as v1';
  return null;
}

/** Why a subscriber's slug pattern is not valid, or null when it is. */
export function slugPatternProblem(pattern: string): string | null {
  const parts = pattern.split('/');
  if (parts.length !== 4) return 'must have four segments: category/name/type/vN (a segment may be *)';
  if (!parts.every((p) => p === '*' || SEGMENT.test(p))) return 'segments may hold only a-z, 0-9, _ and -, or be *';
  if (parts[3] !== '*' && !VERSION.test(parts[3]!)) return 'the last segment must be a version such as v1, or *';
  return null;
}

export function parseSlug(slug: string): ParsedSlug {
  const [category = '', name = '', type = '', v = ''] = slug.split('/');
  return { category, name, type, version: v.replace(/^v/, '') };
}

export function slugMatches(pattern: string, slug: string): boolean {
  if (pattern === slug) return true;
  const p = pattern.split('/');
  const s = slug.split('/');
  if (p.length !== s.length) return false;
  return p.every((segment, i) => segment === '*' || segment === s[i]);
}
