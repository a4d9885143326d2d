// The card's view: readiness, guardrails, referral and rewards of one contact.
import { useCallback, useEffect, useState } from 'react';
import {
  Alert,
  Button,
  DescriptionList,
  DescriptionListItem,
  Divider,
  EmptyState,
  ErrorState,
  Flex,
  Heading,
  Link,
  List,
  LoadingSpinner,
  ScoreCircle,
  StatusTag,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
  Text,
} from '@hubspot/ui-extensions';
import {
  loadCard,
  when,
  words,
  type CardState,
  type Fetcher,
  type Referral,
  type Reward,
  type ScoredContact,
} from './cardData.ts';

export interface AdvocateReadinessProps {
  contactId: string | number;
  // HubSpot's copyTextToClipboard action
  copyText: (text: string) => Promise<void>;
  fetcher?: Fetcher;
}

type TagVariant = 'danger' | 'warning' | 'info' | 'success' | 'default';

const TIER_VARIANTS: Record<string, TagVariant> = {
  champion: 'success',
  ready: 'success',
  nurture: 'info',
  not_ready: 'default',
  excluded: 'danger',
};

const REWARD_VARIANTS: Record<string, TagVariant> = {
  held: 'warning',
  pending_approval: 'warning',
  payable: 'info',
  sending: 'info',
  paid: 'success',
  blocked: 'danger',
  rejected: 'danger',
  cancelled: 'default',
  failed: 'danger',
};

export const AdvocateReadiness = ({ contactId, copyText, fetcher }: AdvocateReadinessProps) => {
  const [state, setState] = useState<CardState | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let current = true;
    setState(null);
    loadCard(contactId, fetcher).then((next) => {
      if (current) {
        setState(next);
      }
    });
    return () => {
      current = false;
    };
  }, [contactId, fetcher, attempt]);

  const retry = useCallback(() => setAttempt((n) => n + 1), []);

  if (state === null) {
    return <LoadingSpinner label="Asking the Advocate connector..." />;
  }
  if (state.kind === 'unreachable') {
    return (
      <ErrorState title="The Advocate connector did not answer" testId="unreachable">
        <Text>
          This card could not reach the Advocate connector: {state.problem}. The score and the
          referral details show again once the connector answers.
        </Text>
        <Button onClick={retry}>Try again</Button>
      </ErrorState>
    );
  }
  if (state.kind === 'not_scored') {
    return (
      <EmptyState title="Not scored yet" layout="vertical" imageName="contacts" testId="not-scored">
        <Text>
          The Advocate connector has not scored this contact yet. It scores every contact at its
          next sync, and sooner when a property it reads changes.
        </Text>
      </EmptyState>
    );
  }
  return <Scored data={state.data} copyText={copyText} />;
};

const Scored = ({ data, copyText }: { data: ScoredContact; copyText: AdvocateReadinessProps['copyText'] }) => (
  <Flex direction="column" gap="medium">
    <Flex direction="row" gap="medium" align="center">
      <ScoreCircle score={data.score} testId="score" />
      <Flex direction="column" gap="extra-small">
        <Text format={{ fontWeight: 'bold' }} testId="score-text">
          Readiness score {data.score} of 100
        </Text>
        <StatusTag variant={TIER_VARIANTS[data.tier] ?? 'default'} testId="tier">
          {words(data.tier)}
        </StatusTag>
        <Text variant="microcopy" testId="scored-at">
          Last scored {when(data.scored_at)}
        </Text>
      </Flex>
    </Flex>
    {data.excluded_by.length > 0 && (
      <Alert title="Excluded from the referral program" variant="warning" testId="excluded">
        <Text>A guardrail keeps this contact out of the program, whatever its score:</Text>
        <List variant="unordered-styled">
          {data.excluded_by.map((g) => (
            <Text key={g.guardrail || g.reason}>
              {words(g.reason)} (guardrail {g.guardrail})
            </Text>
          ))}
        </List>
      </Alert>
    )}
    <Heading>Why this score</Heading>
    {data.reasons.length > 0 ? (
      <List variant="unordered-styled" testId="reasons">
        {data.reasons.map((reason) => (
          <Text key={reason}>{reason}</Text>
        ))}
      </List>
    ) : (
      <Text testId="reasons">No signal contributed to the score.</Text>
    )}
    <Divider />
    <Heading>Referral program</Heading>
    <ReferralDetails referral={data.referral} copyText={copyText} />
    <Divider />
    <Heading>Rewards</Heading>
    <Rewards rewards={data.rewards} />
  </Flex>
);

const ReferralDetails = ({
  referral,
  copyText,
}: {
  referral: Referral | null;
  copyText: AdvocateReadinessProps['copyText'];
}) => {
  const [copied, setCopied] = useState<string | null>(null);
  if (referral === null) {
    return <Text testId="referral">Not invited to the referral program yet.</Text>;
  }
  const copy = (what: string, value: string) => {
    copyText(value).then(
      () => setCopied(what),
      () => setCopied(null)
    );
  };
  return (
    <DescriptionList direction="row" testId="referral">
      <DescriptionListItem label="Status">
        <StatusTag testId="referral-status">{words(referral.status)}</StatusTag>
      </DescriptionListItem>
      <DescriptionListItem label="Referral code">
        {referral.code ? (
          <Flex direction="row" gap="small" align="center">
            <Text format={{ fontWeight: 'demibold' }} testId="referral-code">
              {referral.code}
            </Text>
            <Button size="xs" variant="secondary" testId="copy-code" onClick={() => copy('code', referral.code ?? '')}>
              {copied === 'code' ? 'Code copied' : 'Copy code'}
            </Button>
          </Flex>
        ) : (
          <Text testId="referral-code">No code yet</Text>
        )}
      </DescriptionListItem>
      <DescriptionListItem label="Referral link">
        {referral.link ? (
          <Flex direction="column" gap="extra-small">
            <Link href={{ url: referral.link, external: true }} testId="referral-link">
              {referral.link}
            </Link>
            <Button size="xs" variant="secondary" testId="copy-link" onClick={() => copy('link', referral.link ?? '')}>
              {copied === 'link' ? 'Link copied' : 'Copy link'}
            </Button>
          </Flex>
        ) : (
          <Text testId="referral-link">No link yet</Text>
        )}
      </DescriptionListItem>
      <DescriptionListItem label="Referrals made">
        <Text testId="referrals-made">{referral.made}</Text>
      </DescriptionListItem>
      <DescriptionListItem label="Referrals converted">
        <Text testId="referrals-converted">{referral.converted}</Text>
      </DescriptionListItem>
    </DescriptionList>
  );
};

const Rewards = ({ rewards }: { rewards: Reward[] }) => {
  if (rewards.length === 0) {
    return <Text testId="rewards">No rewards yet.</Text>;
  }
  return (
    <Table bordered={true} testId="rewards">
      <TableHead>
        <TableRow>
          <TableHeader>Reward</TableHeader>
          <TableHeader>For</TableHeader>
          <TableHeader>Amount</TableHeader>
          <TableHeader>State</TableHeader>
        </TableRow>
      </TableHead>
      <TableBody>
        {rewards.map((reward) => (
          <TableRow key={reward.id}>
            <TableCell>#{reward.id}</TableCell>
            <TableCell>{words(reward.role)}</TableCell>
            <TableCell>
              {reward.amount} {reward.unit}
            </TableCell>
            <TableCell>
              <StatusTag variant={REWARD_VARIANTS[reward.state] ?? 'default'}>{words(reward.state)}</StatusTag>
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
};
