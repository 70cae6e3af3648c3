// Who pays for a request: the chain [organisation, team, key | workload] (docs/budgets.md). Pure. The presented
// key is hashed at once and compared to every configured hash in constant time; it is never logged, stored or put
// into an error.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { BudgetsConfig } from './config.js';
import { limitsOf, type BudgetSubject } from './ledger.js';
import { errorReply, type ErrorReply } from '../unified/errors.js';

export interface IdentityInput {
  /** The Authorization header (`Bearer <virtual key>`). */
  readonly authorization?: string | undefined;
  /** Envoy's source.principal (mesh identity), e.g. spiffe://cluster.local/ns/search/sa/api. */
  readonly principal?: string | undefined;
  /** Value of budgets.trustedTenantHeader.name; honoured only from a trusted principal. */
  readonly tenantHeader?: string | undefined;
}

export type IdentityResult =
  | { readonly ok: true; readonly chain: readonly BudgetSubject[]; readonly via: 'key' | 'workload' | 'tenant-header' }
  | { readonly ok: false; readonly response: ErrorReply };

interface Index {
  readonly keys: ReadonlyArray<{ readonly hash: Buffer; readonly chain: readonly BudgetSubject[] }>;
  readonly principals: ReadonlyMap<string, readonly BudgetSubject[]>;
  readonly tenants: ReadonlyMap<string, readonly BudgetSubject[]>;
  readonly trusted: ReadonlySet<string>;
  readonly subjects: readonly BudgetSubject[];
}

const indexes = new WeakMap<BudgetsConfig, Index>();

function indexOf(config: BudgetsConfig): Index {
  const cached = indexes.get(config);
  if (cached) return cached;
  const keys: Array<{ hash: Buffer; chain: readonly BudgetSubject[] }> = [];
  const principals = new Map<string, readonly BudgetSubject[]>();
  const tenants = new Map<string, readonly BudgetSubject[]>();
  const subjects: BudgetSubject[] = [];
  for (const org of config.organisations) {
    const orgSubject: BudgetSubject = { level: 'organisation', id: org.name, limits: limitsOf(org.limits, org.rate) };
    subjects.push(orgSubject);
    for (const team of org.teams) {
      const teamId = `${org.name}/${team.name}`;
      const teamSubject: BudgetSubject = { level: 'team', id: teamId, limits: limitsOf(team.limits, team.rate) };
      const teamChain = [orgSubject, teamSubject];
      tenants.set(teamId, teamChain);
      subjects.push(teamSubject);
      for (const key of team.keys) {
        const subject: BudgetSubject = {
          level: 'key',
          id: `${teamId}/${key.name}`,
          limits: limitsOf(key.limits, key.rate),
        };
        const chain = [...teamChain, subject];
        keys.push({ hash: Buffer.from(key.sha256, 'hex'), chain });
        subjects.push(subject);
        tenants.set(`${teamId}/${key.name}`, chain);
      }
      for (const w of team.workloads) {
        const name = w.name ?? w.principal;
        const subject: BudgetSubject = {
          level: 'workload',
          id: `${teamId}/${name}`,
          limits: limitsOf(w.limits, w.rate),
        };
        const chain = [...teamChain, subject];
        principals.set(w.principal, chain);
        subjects.push(subject);
        tenants.set(`${teamId}/${name}`, chain);
      }
    }
  }
  const index: Index = {
    keys,
    principals,
    tenants,
    trusted: new Set(config.trustedTenantHeader?.fromPrincipals ?? []),
    subjects,
  };
  indexes.set(config, index);
  return index;
}

/** OpenAI's 401 for a missing or unknown key. */
function failure(code: 'invalid_api_key' | 'missing_api_key', message: string): IdentityResult {
  return { ok: false, response: errorReply(401, 'invalid_request_error', code, message) };
}

/**
 * Order: a trusted principal's tenant header; else a configured virtual key; else the workload's principal (so a
 * mesh workload whose SDK sends a placeholder key still resolves); else 401.
 */
export function resolveIdentity(input: IdentityInput, config: BudgetsConfig): IdentityResult {
  const index = indexOf(config);
  if (input.principal !== undefined && input.tenantHeader !== undefined && index.trusted.has(input.principal)) {
    const chain = index.tenants.get(input.tenantHeader.trim());
    if (chain) return { ok: true, chain, via: 'tenant-header' };
    return failure('invalid_api_key', 'The tenant named by the trusted tenant header is not configured.');
  }
  const bearer = /^\s*Bearer\s+(\S+)\s*$/i.exec(input.authorization ?? '')?.[1];
  if (bearer !== undefined) {
    const presented = createHash('sha256').update(bearer, 'utf8').digest();
    let found: readonly BudgetSubject[] | undefined;
    for (const key of index.keys) {
      // No early exit: every hash is compared, each in constant time.
      if (timingSafeEqual(presented, key.hash) && found === undefined) found = key.chain;
    }
    if (found) return { ok: true, chain: found, via: 'key' };
  }
  const workload = input.principal === undefined ? undefined : index.principals.get(input.principal);
  if (workload) return { ok: true, chain: workload, via: 'workload' };
  if (bearer !== undefined) return failure('invalid_api_key', 'Incorrect API key provided.');
  return failure('missing_api_key', "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.");
}

/** SHA-256 hex of a virtual key, as written in the config (`sha256:`). */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Every configured subject (organisations, teams, keys, workloads), parents first. */
export function allSubjects(config: BudgetsConfig): readonly BudgetSubject[] {
  return indexOf(config).subjects;
}

/** The chain of a configured tenant id (`org/team`, or `org/team/name` for a key or workload), else undefined. */
export function tenantChain(config: BudgetsConfig, tenant: string): readonly BudgetSubject[] | undefined {
  return indexOf(config).tenants.get(tenant.trim());
}
