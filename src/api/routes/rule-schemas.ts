// TypeBox schemas of filters and reducers. The recursive structure is checked by the rules module, which
// names the exact part at fault; the schema here documents it and requires objects where objects belong.
import { Type } from '@sinclair/typebox';

export const FilterSchema = Type.Object(
  {
    query: Type.Optional(Type.String({ description: 'RFC 9535 JSONPath evaluated against the payload, e.g. $.order.status' })),
    condition: Type.Optional(
      Type.String({ description: 'Source of a JavaScript function of one argument, e.g. "(status) => status === \'placed\'" (≤ 4 KiB; 50 ms, 16 MiB)' }),
    ),
    logic: Type.Optional(Type.String({ description: 'AND or OR (any case), combining `conditions`' })),
    conditions: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }), { description: '1 to 5 nested filters; nesting depth at most 5' })),
  },
  {
    additionalProperties: true,
    description:
      'Either {query, condition} or {logic, conditions}. A singular query hands the condition its value (or undefined); ' +
      'any other query hands it the array of matches.',
  },
);

export const ReducerSchema = Type.Object(
  {},
  {
    additionalProperties: true,
    description:
      'JSON template: every string leaf starting with $ is a JSONPath on the payload (singular: the value, key left out ' +
      'when nothing matches; otherwise the array of matches); other leaves are literals. ≤ 64 KiB, depth ≤ 10.',
  },
);
