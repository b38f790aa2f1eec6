// A filter or reducer that cannot be used, with where (`filters.conditions[1].query`) and why.
export class RuleError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'RuleError';
  }
}
