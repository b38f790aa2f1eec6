// TypeBox schemas shared by several routes: tenant parameters, paging, the error body.
import { Type, type Static, type TUnsafe } from '@sinclair/typebox';

export const OpaqueId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Opaque identifier, [A-Za-z0-9_-]{1,64}' });
export const PositiveInt = Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1 });

export const TenantParams = Type.Object({ organization_id: OpaqueId, extension_id: OpaqueId });
export type TenantParams = Static<typeof TenantParams>;

export const ErrorBody = Type.Object(
  {
    success: Type.Literal(false),
    message: Type.String({ description: 'What is wrong, for a person' }),
    code: Type.String({ description: 'Machine-readable code, e.g. VALIDATION_ERROR, NOT_FOUND' }),
  },
  { $id: 'Error', description: 'Every error answer has this shape.' },
);

export const SuccessBody = Type.Object({ success: Type.Literal(true), message: Type.String() });

export const PageInfo = Type.Object({
  current: Type.Integer(),
  size: Type.Integer(),
  item_total: Type.Integer(),
  has_next: Type.Boolean(),
  type: Type.Literal('number'),
});

export const PageQuery = {
  // Bounded so the row offset (page_no - 1) × page_size stays an exact integer SQL accepts (a huge page_no was a 500).
  page_no: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, default: 1 })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
};

export const DateTime = Type.String({ format: 'date-time', description: 'ISO-8601 date-time, e.g. 2026-11-01T03:02:51Z' });

/** Error answers every tenant route may give, for the OpenAPI description. */
export const commonErrors = {
  400: Type.Ref(ErrorBody),
  401: Type.Ref(ErrorBody),
  403: Type.Ref(ErrorBody),
  404: Type.Ref(ErrorBody),
  503: Type.Ref(ErrorBody),
};

export const tenantOf = (p: TenantParams) => ({ organizationId: p.organization_id, extensionId: p.extension_id });

/** A string enum as {type: string, enum: [...]}, so a wrong value is answered with the list of allowed ones. */
export const StringEnum = <const T extends string>(values: readonly T[], options: { default?: T; description?: string } = {}): TUnsafe<T> =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
