// What the card shows, read from the connector's `GET /app/card/contacts/<id>`.
import { hubspot } from '@hubspot/ui-extensions';
import { PUBLIC_URL } from './config.ts';

export interface ExcludedBy {
  guardrail: string;
  reason: string;
}

export interface Referral {
  code: string | null;
  link: string | null;
  status: string;
  made: number;
  converted: number;
}

export interface Reward {
  id: number;
  role: string;
  amount: string;
  unit: string;
  state: string;
}

export interface ScoredContact {
  contact_id: string;
  scored: true;
  score: number;
  tier: string;
  reasons: string[];
  excluded_by: ExcludedBy[];
  referral: Referral | null;
  rewards: Reward[];
  scored_at: string | null;
}

export type CardState =
  | { kind: 'scored'; data: ScoredContact }
  | { kind: 'not_scored'; contactId: string }
  | { kind: 'unreachable'; problem: string };

// hubspot.fetch's signature; tests pass a fake with the same shape.
export type Fetcher = (url: string) => Promise<Response>;

// HubSpot gives a hubspot.fetch request at most 15 s; the card waits a little less.
const TIMEOUT_MS = 10000;

export function cardUrl(contactId: string | number): string {
  const base = PUBLIC_URL.replace(/\/+$/, '');
  return `${base}/app/card/contacts/${encodeURIComponent(String(contactId))}`;
}

// GET only, no custom headers: HubSpot signs the request (v3) and the connector checks it.
export const defaultFetcher: Fetcher = (url) =>
  hubspot.fetch(url, { method: 'GET', timeout: TIMEOUT_MS });

export async function loadCard(
  contactId: string | number,
  fetcher: Fetcher = defaultFetcher
): Promise<CardState> {
  let response: Response;
  try {
    response = await fetcher(cardUrl(contactId));
  } catch (error) {
    return { kind: 'unreachable', problem: describeError(error) };
  }
  if (!response.ok) {
    return { kind: 'unreachable', problem: `it answered HTTP ${response.status}` };
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    return { kind: 'unreachable', problem: 'its answer was not JSON' };
  }
  return parseCard(body, String(contactId));
}

export function parseCard(body: unknown, contactId: string): CardState {
  if (!isObject(body) || typeof body.scored !== 'boolean') {
    return { kind: 'unreachable', problem: 'its answer did not say whether the contact is scored' };
  }
  if (!body.scored) {
    return { kind: 'not_scored', contactId: text(body.contact_id) ?? contactId };
  }
  const score = Number(body.score);
  if (!Number.isFinite(score)) {
    return { kind: 'unreachable', problem: 'its answer had no score' };
  }
  return {
    kind: 'scored',
    data: {
      contact_id: text(body.contact_id) ?? contactId,
      scored: true,
      score: Math.max(0, Math.min(100, Math.round(score))),
      tier: text(body.tier) ?? 'not_ready',
      reasons: list(body.reasons).map((r) => text(r)).filter(isText),
      excluded_by: list(body.excluded_by).filter(isObject).map((g) => ({
        guardrail: text(g.guardrail) ?? '',
        reason: text(g.reason) ?? text(g.guardrail) ?? '',
      })),
      referral: referralOf(body.referral),
      rewards: list(body.rewards).filter(isObject).map((r) => ({
        id: Number(r.id),
        role: text(r.role) ?? '',
        amount: text(r.amount) ?? '',
        unit: text(r.unit) ?? '',
        state: text(r.state) ?? '',
      })),
      scored_at: text(body.scored_at),
    },
  };
}

function referralOf(value: unknown): Referral | null {
  if (!isObject(value)) {
    return null;
  }
  return {
    code: text(value.code),
    link: text(value.link),
    status: text(value.status) ?? 'none',
    made: count(value.made),
    converted: count(value.converted),
  };
}

function describeError(error: unknown): string {
  if (error instanceof Error && error.message) {
    return error.message;
  }
  return 'the request failed';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isText(value: string | null): value is string {
  return value !== null;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function text(value: unknown): string | null {
  if (typeof value === 'string' && value.trim() !== '') {
    return value;
  }
  if (typeof value === 'number' && Number.isFinite(value)) {
    return String(value);
  }
  return null;
}

function count(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

// Words for the connector's enumeration values ("not_ready" -> "Not ready").
export function words(value: string): string {
  const spaced = value.replace(/_/g, ' ').trim();
  return spaced ? spaced.charAt(0).toUpperCase() + spaced.slice(1) : '';
}

// "2026-12-01T10:00:00Z" -> "2026-12-01 10:00 UTC"; anything unparseable is shown as given.
export function when(iso: string | null): string {
  if (!iso) {
    return 'unknown';
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`
  );
}
