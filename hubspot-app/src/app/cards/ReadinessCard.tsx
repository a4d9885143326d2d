// Entry point of the contact-record card (see readiness-card-hsmeta.json).
import { hubspot } from '@hubspot/ui-extensions';
import { AdvocateReadiness } from './AdvocateReadiness.tsx';

hubspot.extend<'crm.record.tab'>(({ context, actions }) => (
  <AdvocateReadiness contactId={context.crm.objectId} copyText={actions.copyTextToClipboard} />
));
