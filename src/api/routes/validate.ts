// The seed's validate/filter and validate/reducer operations: try a configuration against sample data.
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { applyReducer, RuleError, type Rules } from '../../rules/index.ts';
import { commonErrors, TenantParams } from '../schemas.ts';
import { FilterSchema, ReducerSchema } from './rule-schemas.ts';

const P = '/service/partner/webhook/v1.0/organization/:organization_id/extension/:extension_id';
const tags = ['filters and reducers'];
const SampleData = Type.Object({}, { additionalProperties: true, description: 'Sample payload' });

const reason = (err: unknown) => (err instanceof RuleError ? err.message : err instanceof Error ? err.message : String(err));

export const validateRoutes: FastifyPluginAsyncTypebox<{ rules: Rules }> = async (app, { rules }) => {
  app.post(`${P}/validate/filter`, {
    schema: {
      tags,
      summary: 'Validate filter configuration.',
      description:
        'Validate a filter configuration against sample payload data. A filter that cannot be evaluated answers 200 ' +
        'with success false and the precise reason; a body that does not match the schema answers 400.',
      params: TenantParams,
      body: Type.Object({ sample_data: SampleData, filters: FilterSchema }),
      response: {
        200: Type.Object({ success: Type.Boolean(), message: Type.String(), filter_result: Type.Boolean() }),
        ...commonErrors,
      },
    },
  }, async (req) => {
    try {
      const filter = await rules.validateFilter(req.body.filters, 'filters');
      const [outcome] = await rules.evaluate([{ filter, payload: req.body.sample_data }]);
      if (!outcome!.ok) return { success: false, message: outcome!.error, filter_result: false };
      return {
        success: true,
        message: outcome!.pass ? 'the filter passes for the sample data' : 'the filter does not pass for the sample data',
        filter_result: outcome!.pass,
      };
    } catch (err) {
      if (!(err instanceof RuleError)) throw err;
      return { success: false, message: reason(err), filter_result: false };
    }
  });

  app.post(`${P}/validate/reducer`, {
    schema: {
      tags,
      summary: 'Validate reducer configuration.',
      description:
        'Validate a reducer configuration against sample payload data. An invalid reducer answers 200 with success ' +
        'false, the precise reason and reducer_result null; a body that does not match the schema answers 400.',
      params: TenantParams,
      body: Type.Object({ sample_data: SampleData, reducer: ReducerSchema }),
      response: {
        200: Type.Object({
          success: Type.Boolean(),
          message: Type.String(),
          reducer_result: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
        }),
        ...commonErrors,
      },
    },
  }, async (req) => {
    try {
      const reducer = rules.validateReducer(req.body.reducer, 'reducer');
      const result = applyReducer(reducer, req.body.sample_data);
      return { success: true, message: 'the reducer is valid', reducer_result: { ...result } };
    } catch (err) {
      return { success: false, message: reason(err), reducer_result: null };
    }
  });
};
