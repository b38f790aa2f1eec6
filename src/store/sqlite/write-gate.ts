// A batch publish's transaction stays open across turns of the event loop (events.ts), so that the dispatcher keeps
// claiming and feeding the sending thread while thousands of rows are written. Meanwhile nothing else may write on the
// connection (it would join that transaction), and reads of what it writes would see rows not yet committed: the
// store's other calls wait here until it commits, and claims, which must go on, see only deliveries committed before.
export class WriteGate {
  /** The highest deliveries.id a claim may take: rows above it belong to a publish not yet committed. */
  claimableUpTo = Number.MAX_SAFE_INTEGER;
  private closed: Promise<void> | undefined;
  private reopen: (() => void) | undefined;

  /** A transaction stays open from now until open(); `committedUpTo` is the highest delivery id committed before it. */
  close(committedUpTo: number): void {
    if (this.closed) return;
    this.claimableUpTo = committedUpTo;
    this.closed = new Promise((resolve) => (this.reopen = resolve));
  }

  open(): void {
    const reopen = this.reopen;
    this.closed = undefined;
    this.reopen = undefined;
    this.claimableUpTo = Number.MAX_SAFE_INTEGER;
    reopen?.();
  }

  /** Runs `use` once no transaction is held open: at once (in this turn) when none is. */
  async pass<T>(use: () => T): Promise<T> {
    while (this.closed) await this.closed;
    return use();
  }
}
