// Messages between the server and its condition sandbox process.

export interface ConditionJob {
  source: string;
  value: unknown;
}

export type JobResult = { ok: true; result: boolean } | { ok: false; error: string };

export type SandboxRequest =
  | { id: number; kind: 'evaluate'; jobs: ConditionJob[] }
  | { id: number; kind: 'check'; sources: string[] };

export interface SandboxResponse {
  id: number;
  results: JobResult[];
}
