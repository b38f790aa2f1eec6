// Alerts to people: a blocked subscriber is always logged, and mailed to its email_id when HOOKD_SMTP_URL is set.
import type { FastifyBaseLogger } from 'fastify';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Subscriber } from '../domain/types.ts';

export interface BlockedAlert {
  subscriber: Subscriber;
  reason: string;
}

export class Alerter {
  private readonly transport: Transporter | undefined;

  constructor(
    private readonly log: FastifyBaseLogger,
    smtpUrl: string | undefined,
    private readonly from = 'hookd <hookd@localhost>',
  ) {
    this.transport = smtpUrl ? nodemailer.createTransport(smtpUrl) : undefined;
  }

  async subscriberBlocked({ subscriber, reason }: BlockedAlert): Promise<void> {
    this.log.warn(
      { subscriber_id: subscriber.id, organization_id: subscriber.organization_id, webhook_url: subscriber.webhook_url, reason },
      'subscriber blocked: its deliveries wait as RESYNC until it is re-activated',
    );
    if (!this.transport || !subscriber.email_id) return;
    try {
      await this.transport.sendMail({
        from: this.from,
        to: subscriber.email_id,
        subject: `[hookd] subscriber "${subscriber.name}" (${subscriber.id}) is blocked`,
        text: [
          `hookd stopped sending to subscriber "${subscriber.name}" (id ${subscriber.id}).`,
          ``,
          `Webhook URL: ${subscriber.webhook_url}`,
          `Reason: ${reason}`,
          ``,
          `New and queued deliveries are kept as RESYNC. When the endpoint works again, re-activate the subscriber:`,
          `PATCH .../organization/${subscriber.organization_id}/extension/${subscriber.extension_id}/subscriber/${subscriber.id} {"status": "active"}`,
          `and every RESYNC delivery is queued again.`,
        ].join('\n'),
      });
    } catch (err) {
      this.log.error({ err, subscriber_id: subscriber.id }, 'could not mail the blocked-subscriber alert');
    }
  }

  close(): void {
    this.transport?.close();
  }
}
