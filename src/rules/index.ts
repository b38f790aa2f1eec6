// Filters and reducers as one service: validation (structure, JSONPath, sandbox compile) and evaluation.
import { ConditionRunner } from './condition-runner.ts';
import { compileFilter, conditionsOf, decideFilter, planFilter, type CompiledFilter, type FilterOutcome } from './filter.ts';
import { applyReducer, compileReducer, type CompiledReducer } from './reducer.ts';
import { RuleError } from './rule-error.ts';
import type { ConditionJob } from './sandbox-protocol.ts';

export { RuleError, type CompiledFilter, type CompiledReducer, type FilterOutcome };
export { applyReducer, compileFilter, compileReducer, decideFilter, planFilter };
export type { ConditionJob };

export class Rules {
  constructor(readonly runner: ConditionRunner = new ConditionRunner()) {}

  /** Compiles a filter and checks in the sandbox that every condition is a function; throws RuleError. */
  async validateFilter(raw: unknown, path = 'filters'): Promise<CompiledFilter> {
    const filter = compileFilter(raw, path);
    const conditions = conditionsOf(filter);
    const problems = await this.runner.check(conditions.map((c) => c.source));
    const i = problems.findIndex((p) => p !== null);
    if (i >= 0) throw new RuleError(conditions[i]!.path, problems[i]!);
    return filter;
  }

  validateReducer(raw: unknown, path = 'reducer'): CompiledReducer {
    return compileReducer(raw, path);
  }

  /** Evaluates many filters in one sandbox round trip. */
  async evaluate(items: { filter: CompiledFilter; payload: unknown }[]): Promise<FilterOutcome[]> {
    const jobs: ConditionJob[] = [];
    const plans = items.map(({ filter, payload }) => planFilter(filter, payload, jobs));
    const results = await this.runner.evaluate(jobs);
    return plans.map((plan) => decideFilter(plan, results));
  }

  close(): void {
    this.runner.close();
  }
}
