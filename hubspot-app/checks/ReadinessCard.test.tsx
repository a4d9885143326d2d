// Render tests of the contact-record card against a faked hubspot.fetch.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Alert,
  Button,
  EmptyState,
  ErrorState,
  Link,
  ScoreCircle,
  StatusTag,
  Table,
  Text,
  hubspot,
} from '@hubspot/ui-extensions';
import {
  createRenderer,
  isRenderedTextNode,
  type RenderedNode,
} from '@hubspot/ui-extensions/testing';
import { AdvocateReadiness } from '../src/app/cards/AdvocateReadiness.tsx';
import { PUBLIC_URL } from '../src/app/cards/config.ts';

// The connector's answer for a scored contact (the shape `GET /app/card/contacts/<id>` returns).
const SCORED = {
  contact_id: '123',
  scored: true,
  score: 87,
  tier: 'champion',
  reasons: ['NPS 10 (+30)', '24 logins in 30 days (+20)', 'customer for 2 years (+10)'],
  excluded_by: [],
  referral: {
    code: 'K7Q2M9',
    link: 'https://example.com/refer?code=K7Q2M9',
    status: 'invited',
    made: 2,
    converted: 1,
  },
  rewards: [
    { id: 4, role: 'advocate', amount: '50', unit: 'USD', state: 'held' },
    { id: 7, role: 'advocate', amount: '50', unit: 'USD', state: 'paid' },
  ],
  scored_at: '2026-12-01T10:00:00Z',
};

const EXCLUDED = {
  ...SCORED,
  score: 72,
  tier: 'excluded',
  reasons: ['NPS 9 (+27)', 'open escalation (excluded)'],
  excluded_by: [{ guardrail: 'open_escalation', reason: 'open escalation' }],
  referral: null,
  rewards: [],
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

// All the words a node shows, its descendants' included (`.text` holds direct text only).
function shown(node: RenderedNode | null): string {
  if (node === null) {
    return '';
  }
  if (isRenderedTextNode(node)) {
    return node.text;
  }
  return node.childNodes.map(shown).join(' ').replace(/\s+/g, ' ').trim();
}

function fakeFetch(answer: () => Promise<Response>) {
  return vi.spyOn(hubspot, 'fetch').mockImplementation(() => answer());
}

function renderCard() {
  const renderer = createRenderer('crm.record.tab');
  const { context, actions } = renderer.mocks;
  renderer.render(
    <AdvocateReadiness contactId={context.crm.objectId} copyText={actions.copyTextToClipboard} />
  );
  return renderer;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the readiness card', () => {
  it('asks the connector for this contact with a plain signed GET', async () => {
    const fetch = fakeFetch(() => Promise.resolve(json(SCORED)));
    const { waitFor, find } = renderCard();
    await waitFor(() => find(ScoreCircle));
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, options] = fetch.mock.calls[0];
    expect(url).toBe(`${PUBLIC_URL}/app/card/contacts/123`);
    expect(options?.method ?? 'GET').toBe('GET');
    expect(options?.headers).toBeUndefined();
    expect(options?.body).toBeUndefined();
  });

  it('shows a scored contact: score, tier, reasons, referral, rewards, when', async () => {
    fakeFetch(() => Promise.resolve(json(SCORED)));
    const { waitFor, find, findAll, findByTestId, maybeFind, getRootNode, mocks } = renderCard();
    await waitFor(() => find(ScoreCircle));

    expect(find(ScoreCircle).props.score).toBe(87);
    expect(findByTestId(Text, 'score-text').text).toBe('Readiness score 87 of 100');
    expect(findByTestId(StatusTag, 'tier').text).toBe('Champion');
    expect(findByTestId(Text, 'scored-at').text).toBe('Last scored 2026-12-01 10:00 UTC');
    const root = shown(getRootNode());
    for (const reason of SCORED.reasons) {
      expect(root).toContain(reason);
    }
    expect(maybeFind(Alert)).toBeNull(); // no guardrail applies

    expect(findByTestId(StatusTag, 'referral-status').text).toBe('Invited');
    expect(findByTestId(Text, 'referral-code').text).toBe('K7Q2M9');
    const link = findByTestId(Link, 'referral-link');
    expect(link.text).toBe('https://example.com/refer?code=K7Q2M9');
    expect(link.props.href).toEqual({ url: 'https://example.com/refer?code=K7Q2M9', external: true });
    expect(findByTestId(Text, 'referrals-made').text).toBe('2');
    expect(findByTestId(Text, 'referrals-converted').text).toBe('1');

    const rewards = findByTestId(Table, 'rewards');
    expect(shown(rewards)).toContain('#4');
    expect(shown(rewards)).toContain('50 USD');
    expect(rewards.findAll(StatusTag).map((tag) => tag.text)).toEqual(['Held', 'Paid']);

    // the code and the link copy with HubSpot's clipboard action (a tinyspy spy in tests)
    const copies = mocks.actions.copyTextToClipboard;
    findByTestId(Button, 'copy-code').trigger('onClick');
    expect(copies.calls).toEqual([['K7Q2M9']]);
    await waitFor(() => expect(findByTestId(Button, 'copy-code').text).toBe('Code copied'));
    findByTestId(Button, 'copy-link').trigger('onClick');
    expect(copies.calls).toEqual([['K7Q2M9'], ['https://example.com/refer?code=K7Q2M9']]);
    expect(findAll(Button).length).toBe(2);
  });

  it('names the guardrail that excludes the contact, and why', async () => {
    fakeFetch(() => Promise.resolve(json(EXCLUDED)));
    const { waitFor, find, findByTestId } = renderCard();
    await waitFor(() => find(ScoreCircle));

    expect(findByTestId(StatusTag, 'tier').text).toBe('Excluded');
    const alert = findByTestId(Alert, 'excluded');
    expect(alert.props.title).toBe('Excluded from the referral program');
    expect(shown(alert)).toContain('Open escalation (guardrail open_escalation)');
    expect(findByTestId(Text, 'referral').text).toBe('Not invited to the referral program yet.');
    expect(findByTestId(Text, 'rewards').text).toBe('No rewards yet.');
  });

  it('says so when the connector has not scored the contact yet', async () => {
    fakeFetch(() => Promise.resolve(json({ contact_id: '123', scored: false })));
    const { waitFor, find, maybeFind } = renderCard();
    await waitFor(() => find(EmptyState));

    const empty = find(EmptyState);
    expect(empty.props.title).toBe('Not scored yet');
    expect(shown(empty)).toContain('has not scored this contact yet');
    expect(maybeFind(ScoreCircle)).toBeNull();
  });

  it('says the connector is unreachable when the request fails', async () => {
    fakeFetch(() => Promise.reject(new Error('request timed out')));
    const { waitFor, find, maybeFind } = renderCard();
    await waitFor(() => find(ErrorState));

    const error = find(ErrorState);
    expect(error.props.title).toBe('The Advocate connector did not answer');
    expect(shown(error)).toContain('could not reach the Advocate connector: request timed out');
    expect(maybeFind(ScoreCircle)).toBeNull();
  });

  it('says the connector is unreachable when it answers 5xx, and tries again', async () => {
    const fetch = fakeFetch(() => Promise.resolve(json({ error: 'database down' }, 503)));
    const { waitFor, find, findByTestId } = renderCard();
    await waitFor(() => find(ErrorState));
    expect(shown(findByTestId(ErrorState, 'unreachable'))).toContain('it answered HTTP 503');

    fetch.mockImplementation(() => Promise.resolve(json(SCORED)));
    find(Button).trigger('onClick');
    await waitFor(() => find(ScoreCircle));
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(find(ScoreCircle).props.score).toBe(87);
  });

  it('treats an answer that is not the card JSON as unreachable', async () => {
    fakeFetch(() => Promise.resolve(new Response('<html>proxy error</html>', { status: 200 })));
    const { waitFor, find } = renderCard();
    await waitFor(() => find(ErrorState));
    expect(shown(find(ErrorState))).toContain('its answer was not JSON');
  });
});

describe('the card entry point', () => {
  it('registers with hubspot.extend and reads the contact id from the record context', async () => {
    const extend = vi.spyOn(hubspot, 'extend').mockImplementation(() => undefined);
    fakeFetch(() => Promise.resolve(json(SCORED)));
    await import('../src/app/cards/ReadinessCard.tsx');
    expect(extend).toHaveBeenCalledTimes(1);
    const callback = extend.mock.calls[0][0] as (api: unknown) => React.ReactNode;

    const renderer = createRenderer('crm.record.tab');
    const { context, actions } = renderer.mocks;
    renderer.render(callback({ context, actions, runServerlessFunction: renderer.mocks.runServerlessFunction }));
    await renderer.waitFor(() => renderer.find(ScoreCircle));
    expect(vi.mocked(hubspot.fetch).mock.calls[0][0]).toBe(`${PUBLIC_URL}/app/card/contacts/123`);
  });
});
