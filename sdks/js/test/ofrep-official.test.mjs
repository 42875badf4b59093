// The official OpenFeature OFREP providers, unchanged, against a running `vane edge` that
// serves the conformance snapshot (spec/evaluations). VANE_EDGE_URL names the edge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenFeature as ServerOpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature as WebOpenFeature } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const baseUrl = process.env.VANE_EDGE_URL;
const key = process.env.VANE_CLIENT_KEY ?? 'vane_client_conformance';
const headers = [['Authorization', `Bearer ${key}`]];

test('the official server provider (@openfeature/ofrep-provider) evaluates flags and experiments', async () => {
  await ServerOpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl, headers }));
  const client = ServerOpenFeature.getClient();
  const targeted = await client.getBooleanDetails('targeted', false, {
    targetingKey: 'a', plan: 'pro', age: 30, country: 'DE',
  });
  assert.equal(targeted.value, true);
  assert.equal(targeted.reason, 'TARGETING_MATCH');
  assert.equal(targeted.flagMetadata.ruleId, 'pro-users');

  const rollout = await client.getStringDetails('half-rollout', 'x', { targetingKey: 'roll-4' });
  assert.equal(rollout.value, 'on');
  assert.equal(rollout.reason, 'SPLIT');

  const basic = await client.getStringDetails('basic', 'none', { targetingKey: 'b-2' });
  assert.equal(basic.value, 'control');
  assert.equal(basic.variant, 'control');
  assert.equal(basic.reason, 'SPLIT');
  assert.equal(basic.flagMetadata.experiment, 'basic');
  assert.deepEqual(JSON.parse(basic.flagMetadata.payload), { color: 'blue' });

  const missing = await client.getBooleanDetails('no-such-flag', true, { targetingKey: 'a' });
  assert.equal(missing.value, true);
  assert.equal(missing.errorCode, 'FLAG_NOT_FOUND');

  const noUnit = await client.getStringDetails('basic', 'fallback', {});
  assert.equal(noUnit.value, 'fallback');
  assert.equal(noUnit.errorCode, 'TARGETING_KEY_MISSING');

  const mismatch = await client.getNumberDetails('targeted', 7, { targetingKey: 'a' });
  assert.equal(mismatch.value, 7);
  assert.equal(mismatch.errorCode, 'TYPE_MISMATCH');
  await ServerOpenFeature.close();
});

test('the official web provider (@openfeature/ofrep-web-provider) evaluates the bulk answer', async () => {
  await WebOpenFeature.setContext({ targetingKey: 'b-2' });
  await WebOpenFeature.setProviderAndWait(new OFREPWebProvider({ baseUrl, headers, pollInterval: 0 }));
  const client = WebOpenFeature.getClient();
  const basic = client.getStringDetails('basic', 'none');
  assert.equal(basic.value, 'control');
  assert.equal(basic.reason, 'SPLIT');
  assert.equal(basic.flagMetadata.inExperiment, true);
  const killed = client.getBooleanDetails('killed', true);
  assert.equal(killed.value, false);
  assert.equal(killed.reason, 'DISABLED');
  const missing = client.getBooleanDetails('no-such-flag', true);
  assert.equal(missing.value, true);
  assert.equal(missing.errorCode, 'FLAG_NOT_FOUND');

  await WebOpenFeature.setContext({ targetingKey: 'b-0' });
  const changed = client.getStringDetails('basic', 'none');
  assert.equal(changed.value, 'treatment');
  await WebOpenFeature.close();
});
