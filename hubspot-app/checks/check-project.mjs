#!/usr/bin/env node
// Offline check of a rendered HubSpot project (the output of `connector app render`).
//
//   node checks/check-project.mjs <project dir> --public-url https://host [--deal-mode]
//
// Runs HubSpot's own project parser (@hubspot/project-parsing-lib `translate`) with
// `skipValidation: true` (its schema validation downloads the schemas from an account), then
// checks what that leaves out: no skipped *-hsmeta.json files, the expected components, each
// in its directory, and the config values the connector depends on. Prints one line per
// check; exits 1 when any fails.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { translate } from '@hubspot/project-parsing-lib/translate';
import { parseProjectConfig, isKnownPlatformVersion } from '@hubspot/project-parsing-lib/projects';
import { validateUid } from '@hubspot/project-parsing-lib/uid';
import { ALLOWED_TOP_LEVEL_FIELDS } from '@hubspot/project-parsing-lib/constants';

const PLATFORM_VERSION = '2026.03';
const CONTACT_SCOPES = [
  'crm.objects.contacts.read',
  'crm.objects.contacts.write',
  'crm.schemas.contacts.read',
  'crm.schemas.contacts.write',
];
const DEAL_SCOPE = 'crm.objects.deals.read';
// componentType (HubSpot's internal name) -> [count, directory under srcDir]
const EXPECTED_COMPONENTS = {
  APPLICATION: [1, 'app'],
  WEBHOOKS: [1, 'app/webhooks'],
  CARD: [1, 'app/cards'],
  WORKFLOW_ACTION: [2, 'app/workflow-actions'],
};
const ACTIONS = {
  '/app/actions/check-readiness': {
    name: 'Check advocate readiness',
    outputs: { score: 'number', tier: 'enumeration', eligible: 'bool', reasons: 'string' },
  },
  '/app/actions/invite': {
    name: 'Invite to the referral program',
    outputs: { eligible: 'bool', referral_code: 'string', referral_link: 'string', reason: 'string' },
  },
};
const TIERS = ['champion', 'ready', 'nurture', 'not_ready', 'excluded'];

function parseArgs(argv) {
  const args = { dir: null, publicUrl: null, dealMode: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--public-url') {
      args.publicUrl = argv[(i += 1)];
    } else if (arg === '--deal-mode') {
      args.dealMode = true;
    } else if (!arg.startsWith('--') && args.dir === null) {
      args.dir = arg;
    } else {
      throw new Error(`unknown argument ${arg}`);
    }
  }
  if (!args.dir || !args.publicUrl) {
    throw new Error('usage: check-project.mjs <project dir> --public-url https://host [--deal-mode]');
  }
  args.publicUrl = args.publicUrl.replace(/\/+$/, '');
  return args;
}

export async function checkProject({ dir, publicUrl, dealMode }) {
  const failures = [];
  const passed = [];
  const check = (ok, what) => (ok ? passed : failures).push(what);
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  const project = parseProjectConfig(dir); // throws on a missing or malformed hsproject.json
  check(project.platformVersion === PLATFORM_VERSION, `hsproject.json platformVersion is ${PLATFORM_VERSION}`);
  check(isKnownPlatformVersion(project.platformVersion), 'the parser knows the platform version');
  const srcDir = path.resolve(dir, project.srcDir);

  const { intermediateRepresentation, skippedHsMetaFiles } = await translate(
    { projectSourceDir: srcDir, platformVersion: project.platformVersion },
    { skipValidation: true }
  );
  check(skippedHsMetaFiles.length === 0, `no skipped *-hsmeta.json files (${skippedHsMetaFiles.join(', ') || 'none'})`);
  const nodes = Object.values(intermediateRepresentation.intermediateNodesIndexedByUid);

  const byType = {};
  for (const node of nodes) {
    (byType[node.componentType] ??= []).push(node);
  }
  for (const [type, [count, where]] of Object.entries(EXPECTED_COMPONENTS)) {
    const found = byType[type] ?? [];
    check(found.length === count, `${count} ${type} component(s), found ${found.length}`);
    for (const node of found) {
      check(path.posix.dirname(node.metaFilePath) === where, `${node.metaFilePath} lies in ${where}/`);
    }
  }
  const unexpected = Object.keys(byType).filter((t) => !(t in EXPECTED_COMPONENTS));
  check(unexpected.length === 0, `no other components (${unexpected.join(', ') || 'none'})`);

  const app = (byType.APPLICATION ?? [])[0];
  for (const node of nodes) {
    check(!validateUid(node.uid), `uid ${node.uid} is valid`);
    const raw = JSON.parse(fs.readFileSync(path.join(srcDir, node.metaFilePath), 'utf8'));
    const extra = Object.keys(raw).filter((k) => !ALLOWED_TOP_LEVEL_FIELDS.has(k));
    check(extra.length === 0, `${node.metaFilePath} has only allowed top-level fields`);
    if (app && node !== app) {
      check(node.componentDeps.app === app.uid, `${node.uid} depends on the app ${app.uid}`);
    }
  }

  if (app) {
    const config = app.config;
    const scopes = config.auth?.requiredScopes ?? [];
    check(config.distribution === 'private', 'app distribution is private');
    check(config.auth?.type === 'static', 'app auth type is static');
    check(CONTACT_SCOPES.every((s) => scopes.includes(s)), `requiredScopes include ${CONTACT_SCOPES.join(', ')}`);
    check(scopes.includes(DEAL_SCOPE) === dealMode, `requiredScopes ${dealMode ? 'include' : 'leave out'} ${DEAL_SCOPE}`);
    check(new Set(scopes).size === scopes.length, 'requiredScopes has no duplicates');
    // the docs: "Apps configured with static auth can only define required scopes"
    check((config.auth?.optionalScopes ?? []).length === 0, 'no optionalScopes (static auth)');
    check((config.auth?.conditionallyRequiredScopes ?? []).length === 0, 'no conditionallyRequiredScopes (static auth)');
    check(same(config.permittedUrls?.fetch, [publicUrl]), `permittedUrls.fetch is [${publicUrl}]`);
  }

  const webhooks = (byType.WEBHOOKS ?? [])[0];
  if (webhooks) {
    const { settings, subscriptions } = webhooks.config;
    check(settings?.targetUrl === `${publicUrl}/webhooks/hubspot`, `targetUrl is ${publicUrl}/webhooks/hubspot`);
    const legacy = subscriptions?.legacyCrmObjects ?? [];
    const hub = subscriptions?.hubEvents ?? [];
    const all = [...(subscriptions?.crmObjects ?? []), ...legacy, ...hub];
    check(all.every((s) => s && typeof s === 'object' && s.active === true), 'every subscription is an active object');
    const keys = all.map((s) => `${s?.subscriptionType}:${s?.propertyName ?? ''}`);
    check(new Set(keys).size === keys.length, 'no subscription twice');
    const types = legacy.map((s) => s?.subscriptionType);
    for (const type of ['contact.creation', 'contact.deletion', 'contact.merge']) {
      check(types.includes(type), `legacyCrmObjects subscribe to ${type}`);
    }
    const changes = legacy.filter((s) => s?.subscriptionType === 'contact.propertyChange');
    check(changes.length > 0 && changes.every((s) => typeof s.propertyName === 'string' && s.propertyName),
      `contact.propertyChange for ${changes.length} named properties`);
    check(hub.some((s) => s?.subscriptionType === 'contact.privacyDeletion'), 'hubEvents subscribe to contact.privacyDeletion');
    const deals = legacy.filter((s) => String(s?.subscriptionType).startsWith('deal.'));
    const wantDeals = ['deal.creation:', 'deal.propertyChange:dealstage', 'deal.deletion:'];
    const gotDeals = deals.map((s) => `${s.subscriptionType}:${s.propertyName ?? ''}`).sort();
    check(same(gotDeals, dealMode ? [...wantDeals].sort() : []),
      dealMode ? 'deal creation, dealstage change and deletion subscribed' : 'no deal subscriptions');
  }

  const card = (byType.CARD ?? [])[0];
  if (card) {
    const { location, objectTypes, entrypoint } = card.config;
    check(location === 'crm.record.tab', 'the card sits in crm.record.tab');
    check(Array.isArray(objectTypes) && objectTypes.includes('contacts'), 'the card shows on contacts');
    const entry = path.join(srcDir, String(entrypoint ?? ''));
    check(typeof entrypoint === 'string' && fs.existsSync(entry), `the card entrypoint ${entrypoint} exists`);
    const configTs = path.join(path.dirname(entry), 'config.ts');
    const constant = fs.existsSync(configTs) ? fs.readFileSync(configTs, 'utf8') : '';
    check(constant.includes(`'${publicUrl}'`), `the card's config.ts holds ${publicUrl}`);
    const cardPackage = path.join(path.dirname(entry), 'package.json');
    check(fs.existsSync(cardPackage), 'the cards directory has its package.json');
    if (fs.existsSync(cardPackage)) {
      const tooling = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
      const deps = JSON.parse(fs.readFileSync(cardPackage, 'utf8')).dependencies ?? {};
      for (const name of ['@hubspot/ui-extensions', 'react']) {
        check(deps[name] === tooling.dependencies[name],
          `the card's ${name} ${deps[name]} is the tested ${tooling.dependencies[name]}`);
      }
    }
  }

  const actions = byType.WORKFLOW_ACTION ?? [];
  for (const [suffix, want] of Object.entries(ACTIONS)) {
    const url = `${publicUrl}${suffix}`;
    const action = actions.find((a) => a.config.actionUrl === url);
    check(Boolean(action), `a workflow action posts to ${url}`);
    if (!action) {
      continue;
    }
    const config = action.config;
    check(config.labels?.en?.actionName === want.name, `${suffix} is named "${want.name}"`);
    check(same(config.objectTypes, ['CONTACT']), `${suffix} runs on contacts`);
    check((config.supportedClients ?? []).some((c) => c.client === 'WORKFLOWS'), `${suffix} supports WORKFLOWS`);
    const outputs = Object.fromEntries((config.outputFields ?? []).map((f) => [f.typeDefinition?.name, f.typeDefinition?.type]));
    check(same(outputs, want.outputs), `${suffix} outputs ${JSON.stringify(want.outputs)}`);
    const labels = Object.keys(config.labels?.en?.outputFieldLabels ?? {}).sort();
    check(same(labels, Object.keys(want.outputs).sort()), `${suffix} labels every output`);
    const tier = (config.outputFields ?? []).find((f) => f.typeDefinition?.name === 'tier');
    if (tier) {
      check(same(tier.typeDefinition.options.map((o) => o.value), TIERS), 'tier options are the five tiers');
    }
  }

  const leftovers = [];
  const walk = (at) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(full);
      } else if (/__[A-Z_]+__/.test(fs.readFileSync(full, 'utf8'))) {
        leftovers.push(path.relative(dir, full));
      }
    }
  };
  walk(dir);
  check(leftovers.length === 0, `no placeholder left (${leftovers.join(', ') || 'none'})`);

  return { passed, failures, components: nodes.map((n) => `${n.componentType} ${n.uid}`) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  try {
    const result = await checkProject(parseArgs(process.argv.slice(2)));
    for (const line of result.passed) console.log(`ok   ${line}`);
    for (const line of result.failures) console.log(`FAIL ${line}`);
    console.log(`${result.passed.length} passed, ${result.failures.length} failed: ${result.components.join('; ')}`);
    process.exit(result.failures.length ? 1 : 0);
  } catch (error) {
    console.log(`FAIL ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
