import { Router, type Request, type Response } from 'express';
import type { Rep } from '../handoff/sales-team.js';
import type { Logger } from '../platform/logger.js';
import { field, form, safeNext, sameOrigin, SESSION_COOKIE, sessionToken, type PageKit } from './dashboard-http.js';
import { SESSION_HOURS, type DashboardSessions } from './sessions.service.js';
import { createThrottle, type Throttle } from './sign-in-throttle.js';

/*
 * Signing in and out. The admin gives the API key; a rep gives an email address and gets a
 * single-use link. The answer to an address is the same whether or not it is a rep's (no account
 * enumeration), and the link is sent after the answer, so the timing says nothing either.
 * Attempts are throttled per IP address and per email address (429 with Retry-After).
 */

export interface SignInDeps {
  sessions: DashboardSessions;
  kit: PageKit;
  publicUrl: string;
  secureCookies: boolean;
  /** Sends a rep their link; null when Baton has no way to send mail. */
  sendSignInLink: ((rep: Rep, url: string) => Promise<void>) | null;
  logger: Logger;
}

/** Per 15 minutes: wrong API keys and bad sign-in links per IP address; links asked per email address and per IP address. */
export const SIGN_IN_LIMITS = { failuresPerIp: 10, linksPerAddress: 5, linksPerIp: 20, windowMs: 15 * 60_000 } as const;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,189}\.[^\s@]{1,63}$/;

export function signInRoutes(deps: SignInDeps): Router {
  const router = Router();
  const { sessions, kit } = deps;
  const limits = SIGN_IN_LIMITS;
  const failures = createThrottle({ limit: limits.failuresPerIp, windowMs: limits.windowMs });
  const linksByAddress = createThrottle({ limit: limits.linksPerAddress, windowMs: limits.windowMs });
  const linksByIp = createThrottle({ limit: limits.linksPerIp, windowMs: limits.windowMs });
  const guard = sameOrigin(deps.publicUrl);
  const ipOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

  /** Answers 429 and returns true when any of the throttles says wait. */
  const throttled = (req: Request, res: Response, checks: Array<[Throttle, string]>) => {
    const now = new Date();
    const waits = checks.map(([throttle, key]) => throttle.retryAfterMs(key, now)).filter((wait): wait is number => wait !== null);
    if (waits.length === 0) return false;
    const seconds = Math.ceil(Math.max(...waits) / 1000);
    res.set('Retry-After', String(seconds));
    kit.notice(req, res, 429, 'Too many attempts', `Too many sign-in attempts from here. Try again in ${Math.ceil(seconds / 60)} minutes.`, {
      href: '/dashboard/login',
      text: 'Back to sign-in',
    });
    return true;
  };

  const login = (req: Request, res: Response, status: number, next: string, error?: string) => {
    kit.page(req, res, status, 'login', 'Sign in', '', { next, ...(error ? { error } : {}) });
  };

  const setCookie = (res: Response, token: string) => {
    // Lax, not Strict: the lead link in a rep's email must open the page signed in. Every POST
    // is checked for its origin (sameOrigin), which is what Strict protected.
    res.cookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, path: '/dashboard', maxAge: SESSION_HOURS * 3_600_000 });
  };

  router.get('/dashboard/login', (req, res) => login(req, res, 200, safeNext(req.query.next)));

  router.post('/dashboard/login', guard, form, async (req, res) => {
    const ip = ipOf(req);
    if (throttled(req, res, [[failures, ip]])) return;
    const next = safeNext(field(req, 'next'));
    if (!sessions.isApiKey(field(req, 'key'))) {
      failures.count(ip, new Date());
      return login(req, res, 401, next, 'That is not the API key.');
    }
    setCookie(res, await sessions.startAdmin(new Date()));
    res.redirect(303, next);
  });

  router.post('/dashboard/login/link', guard, form, (req, res) => {
    const email = field(req, 'email').trim().toLowerCase();
    const next = safeNext(field(req, 'next'));
    if (email.length > 254 || !EMAIL.test(email)) return login(req, res, 400, next, 'Enter your work email address, such as alex@example.com.');
    const ip = ipOf(req);
    if (
      throttled(req, res, [
        [linksByIp, ip],
        [linksByAddress, email],
      ])
    )
      return;
    const now = new Date();
    linksByIp.count(ip, now);
    linksByAddress.count(email, now);
    kit.page(req, res, 200, 'link-sent', 'Check your email', '', { email });
    const rep = sessions.repByEmail(email);
    if (rep && deps.sendSignInLink) {
      deps
        .sendSignInLink(rep, sessions.signInLink(rep, next, now))
        .catch((error: unknown) => deps.logger.error({ err: error, rep: rep.id }, 'a sign-in link could not be sent'));
    }
  });

  const linkProblem = (req: Request, res: Response, kind: 'invalid' | 'expired' | 'used') => {
    const again = { href: '/dashboard/login', text: 'Ask for a new sign-in link' };
    switch (kind) {
      case 'invalid':
        return kit.notice(
          req,
          res,
          404,
          'Sign-in link not valid',
          'This sign-in link is not valid. If you copied it, check that it is complete, or ask for a new one.',
          again,
        );
      case 'expired':
        return kit.notice(req, res, 410, 'Sign-in link expired', 'This sign-in link has expired: links work for 15 minutes.', again);
      case 'used':
        return kit.notice(req, res, 410, 'Sign-in link already used', 'This sign-in link has already been used: each link works once.', again);
    }
  };

  // GET only shows a button: mail scanners fetch links, and must not use up a single-use one.
  router.get('/dashboard/sign-in/:token', async (req, res) => {
    const ip = ipOf(req);
    if (throttled(req, res, [[failures, ip]])) return;
    const link = await sessions.readLink(String(req.params.token), new Date());
    if (link.kind !== 'valid') {
      if (link.kind === 'invalid') failures.count(ip, new Date());
      return linkProblem(req, res, link.kind);
    }
    kit.page(req, res, 200, 'sign-in', 'Sign in', '', { name: link.rep.name });
  });

  router.post('/dashboard/sign-in/:token', guard, async (req, res) => {
    const ip = ipOf(req);
    if (throttled(req, res, [[failures, ip]])) return;
    const outcome = await sessions.redeem(String(req.params.token), new Date());
    if (outcome.kind !== 'signed_in') {
      if (outcome.kind === 'invalid') failures.count(ip, new Date());
      return linkProblem(req, res, outcome.kind);
    }
    deps.logger.info({ rep: outcome.rep.id }, 'a rep signed in to the dashboard');
    setCookie(res, outcome.token);
    res.redirect(303, safeNext(outcome.next));
  });

  // Ends the session on the server too: the same cookie, replayed, no longer signs anyone in.
  router.post('/dashboard/logout', guard, async (req, res) => {
    const token = sessionToken(req);
    if (token) await sessions.revoke(token, new Date());
    res.clearCookie(SESSION_COOKIE, { path: '/dashboard' });
    res.redirect(303, '/dashboard/login');
  });

  return router;
}
