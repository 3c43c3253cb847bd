/*
 * What Baton learns about an email after the SMTP conversation: a late bounce (a DSN), a
 * complaint (an ARF report, an ESP webhook), an unsubscribe by mail. Every source normalises to
 * this one shape, and one recorder (record-feedback.ts) applies it.
 */

export type FeedbackKind = 'hard_bounce' | 'soft_bounce' | 'complaint' | 'unsubscribe';

/** Where the feedback came from: the SMTP conversation itself, the inbound listener, or an ESP's webhook. */
export type FeedbackSource = 'smtp' | 'dsn' | 'arf' | 'plain_bounce' | 'mailto' | 'ses' | 'postmark' | 'sendgrid' | 'mailgun';

export interface DeliveryFeedback {
  sendId: string;
  kind: FeedbackKind;
  /** RFC 3463 enhanced status (5.1.1), or the ESP's code; null when none was given (complaints). */
  status: string | null;
  /** The remote server's words (Diagnostic-Code), or the complaint's feedback type. */
  diagnostic: string | null;
  source: FeedbackSource;
}

const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})$/;

/**
 * The kind of bounce an RFC 3463 status means (shared REFERENCES.md, "SMTP replies"). 5.x.x is
 * permanent except mailbox full (x.2.2), which passes with time; 5.7.x is a policy or
 * authentication refusal of the sender, not proof that the address is dead, so it is soft:
 * repeated, it still ends in suppression through the consecutive soft-bounce limit.
 */
export function bounceKindOfStatus(status: string, action?: string): 'hard_bounce' | 'soft_bounce' | null {
  const match = ENHANCED.exec(status.trim());
  if (!match) return null;
  const [, klass, subject, detail] = match;
  if (klass === '2') return null;
  if (action && /^(delayed|relayed|delivered|expanded)$/i.test(action.trim())) return action.trim().toLowerCase() === 'delayed' ? 'soft_bounce' : null;
  if (klass === '4') return 'soft_bounce';
  if (subject === '2' && detail === '2') return 'soft_bounce';
  if (subject === '7') return 'soft_bounce';
  return 'hard_bounce';
}
