// The body every subscriber receives (API.md § What a subscriber receives), serialised once per event.
import { parseSlug } from './slug.ts';

export interface EnvelopeInput {
  eventId: string;
  slug: string;
  createdAt: number;
  traceId: string[];
  companyId: number;
  applicationId: string | null;
  payload: Record<string, unknown>;
}

export function buildEnvelope(input: EnvelopeInput): Record<string, unknown> {
  const { category, name, type, version } = parseSlug(input.slug);
  return {
    event: {
      id: input.eventId,
      name,
      type,
      category,
      version,
      created_timestamp: input.createdAt,
      trace_id: input.traceId,
    },
    company_id: input.companyId,
    ...(input.applicationId !== null ? { application_id: input.applicationId } : {}),
    contains: Object.keys(input.payload),
    payload: input.payload,
  };
}

/** The exact bytes signed and sent; built once at publish, never re-parsed per delivery. */
export const serializeEnvelope = (input: EnvelopeInput): string => JSON.stringify(buildEnvelope(input));
