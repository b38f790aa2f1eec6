// Event bodies kept between claim rounds, by both adapters. Each event has a delivery per matching subscriber, and those
// are claimed in different rounds (each subscriber's queue moves on its own), so reading the body with each claim read
// it once per delivery: a read and a new 1 KiB+ string each, which then lived until the attempt was sent. Bodies never
// change once published; what can change is the event under a seq, which SQLite reuses once the newest event is purged
// (events.seq is a plain rowid), so a body is kept with its event's id and used only for that id.
//
// A body is kept as its UTF-8 bytes, which all its deliveries share: each is signed (HMAC) and written to a socket as
// bytes, and a string was encoded again for every HMAC and every request (undici's Buffer.from), and copied into each
// message to the sending thread, where one Uint8Array crosses once per message however many jobs name it.

const ENCODER = new TextEncoder();

/**
 * A text's UTF-8 bytes in an ArrayBuffer of their own (not Buffer.from's shared pool, whose whole 8 KiB slab a message
 * to the sending thread would copy).
 */
export const utf8 = (text: string): Uint8Array => ENCODER.encode(text);

/** Bodies kept, at most this many bytes in all. */
const DEFAULT_BUDGET = 8 * 1024 * 1024;

export class EventBodies {
  private readonly bodies = new Map<number, { eventId: string; body: Uint8Array }>();
  private size = 0;

  constructor(private readonly budget = DEFAULT_BUDGET) {}

  /** The body of event `eventId` under `eventSeq`, if it is kept. */
  get(eventSeq: number, eventId: string): Uint8Array | undefined {
    const kept = this.bodies.get(eventSeq);
    return kept?.eventId === eventId ? kept.body : undefined;
  }

  /** Keeps `body` as event `eventId`'s (unless it is a large share of the budget) and returns it. */
  keep(eventSeq: number, eventId: string, body: Uint8Array): Uint8Array {
    const kept = this.bodies.get(eventSeq);
    if (kept) this.forget(eventSeq, kept.body);
    if (body.byteLength > this.budget / 4) return body;
    this.bodies.set(eventSeq, { eventId, body });
    this.size += body.byteLength;
    // The oldest first: deliveries are claimed roughly in publish order, so those are the bodies done with.
    for (const [seq, old] of this.bodies) {
      if (this.size <= this.budget) break;
      this.forget(seq, old.body);
    }
    return body;
  }

  private forget(eventSeq: number, body: Uint8Array): void {
    this.bodies.delete(eventSeq);
    this.size -= body.byteLength;
  }

  /** How many bodies are kept (tests). */
  get count(): number {
    return this.bodies.size;
  }
}
