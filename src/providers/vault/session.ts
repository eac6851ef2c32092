/**
 * The Vault token a client uses, and when it logs in again. A login is reused for its lease:
 * renewed (`auth/token/renew-self`) only when near expiry, repeated only when it cannot be
 * renewed or Vault says the token is no longer valid. Concurrent callers share one login, one
 * renewal and one validity check. The clock is injected, so expiry is tested without waiting.
 */

export interface Login {
  token: string;
  /** Lease in seconds; 0 = does not expire (a static or root token). */
  leaseSeconds: number;
  renewable: boolean;
}

export interface SessionIo {
  /** Obtains a fresh token: an auth-method login, or reading the static token again. */
  login(): Promise<Login>;
  renewSelf(token: string): Promise<Login>;
  /** true: the token is valid (a 403 was a policy denial); false: the token is not valid. */
  lookupSelf(token: string): Promise<boolean>;
}

interface Current {
  token: string;
  expiresAt: number;
  renewable: boolean;
  /** The lease of the login: renewals are judged against it, not against their own lease. */
  leaseMs: number;
}

/** Renew when less than a fifth of the lease is left (at least 5 s, at most half the lease). */
export function renewMarginMs(leaseMs: number): number {
  return Math.min(Math.max(leaseMs * 0.2, 5_000), leaseMs * 0.5);
}

export class VaultSession {
  readonly #io: SessionIo;
  readonly #now: () => number;
  #current: Current | undefined;
  #pending: Promise<string> | undefined;
  readonly #checks = new Map<string, Promise<boolean>>();

  constructor(io: SessionIo, now: () => number) {
    this.#io = io;
    this.#now = now;
  }

  /** A token valid now and not near expiry; logs in or renews only when needed. */
  token(): Promise<string> {
    const cur = this.#current;
    if (cur && !this.#nearExpiry(cur)) return Promise.resolve(cur.token);
    this.#pending ??= this.#refresh(cur).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** After a 403: is `token` still valid? One lookup per token, however many callers ask. */
  stillValid(token: string): Promise<boolean> {
    let check = this.#checks.get(token);
    if (!check) {
      check = this.#io.lookupSelf(token).finally(() => this.#checks.delete(token));
      this.#checks.set(token, check);
    }
    return check;
  }

  /** false once `token` was replaced or forgotten: a 403 on it says nothing about the current one. */
  isCurrent(token: string): boolean {
    return this.#current?.token === token;
  }

  /** Forget `token` if it is still the current one (others may have replaced it already). */
  invalidate(token: string): void {
    if (this.#current?.token === token) this.#current = undefined;
  }

  #nearExpiry(cur: Current): boolean {
    if (!Number.isFinite(cur.expiresAt)) return false;
    return cur.expiresAt - this.#now() <= renewMarginMs(cur.leaseMs);
  }

  async #refresh(cur: Current | undefined): Promise<string> {
    if (cur?.renewable && cur.expiresAt > this.#now()) {
      try {
        const renewed = await this.#io.renewSelf(cur.token);
        const next: Current = {
          ...cur,
          token: renewed.token || cur.token,
          expiresAt: this.#now() + renewed.leaseSeconds * 1000,
          renewable: renewed.renewable,
        };
        // A renewal capped by the token's max TTL leaves it near expiry: log in instead.
        if (renewed.leaseSeconds > 0 && !this.#nearExpiry(next)) {
          this.#current = next;
          return next.token;
        }
      } catch {
        // Not renewable any more (max TTL, revoked): a fresh login follows.
      }
    }
    this.#current = undefined;
    return this.#set(await this.#io.login()).token;
  }

  #set(login: Login): Current {
    const leaseMs = login.leaseSeconds > 0 ? login.leaseSeconds * 1000 : Number.POSITIVE_INFINITY;
    const cur: Current = {
      token: login.token,
      expiresAt: this.#now() + leaseMs,
      renewable: login.renewable && Number.isFinite(leaseMs),
      leaseMs,
    };
    this.#current = cur;
    return cur;
  }
}
