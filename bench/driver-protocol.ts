// Messages between the bench and a sending-run process (driver.ts).
import type { Workload } from './workload.ts';

export interface DriverOptions {
  kind: 'ceiling' | 'bullmq';
  workload: Workload;
  receiverOrigin: string;
}

export type DriverMessage =
  | { type: 'running' }
  | { type: 'error'; message: string }
  | { type: 'finished'; first_sent_at: number; peak_rss_mb: number; cpu_s: number };
