import { readFileSync } from "node:fs";

import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";

import { resolveConfig, type VaneConfig } from "../lib/config.js";
import { RegistryStack, VaneStack } from "../lib/stacks.js";

/** A test environment; the app itself takes account and region from the CDK CLI. */
export const TEST_ENV = { account: "111111111111", region: "eu-west-1" };

export function exampleConfig(overrides: Record<string, unknown> = {}): VaneConfig {
  const example = JSON.parse(readFileSync(new URL("../config/example.json", import.meta.url), "utf8"));
  return resolveConfig({ ...example, ...overrides });
}

export function synth(config: VaneConfig = exampleConfig()): { stack: VaneStack; template: Template; registry: Template } {
  // The feature flags of cdk.json, as the CLI would pass them.
  const cdkJson = JSON.parse(readFileSync(new URL("../cdk.json", import.meta.url), "utf8"));
  const app = new App({ context: cdkJson.context });
  const registry = new RegistryStack(app, "TestRegistry", { env: TEST_ENV, config });
  const stack = new VaneStack(app, "Test", { env: TEST_ENV, config });
  return { stack, template: Template.fromStack(stack), registry: Template.fromStack(registry) };
}

export type Statement = {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: unknown;
};

export const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Every statement of every identity policy (IAM policies, managed policies, role inline policies). */
export function identityStatements(template: Template): { resource: string; statement: Statement }[] {
  const out: { resource: string; statement: Statement }[] = [];
  for (const type of ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"]) {
    for (const [id, r] of Object.entries(template.findResources(type))) {
      for (const s of r.Properties.PolicyDocument.Statement) out.push({ resource: id, statement: s });
    }
  }
  for (const [id, r] of Object.entries(template.findResources("AWS::IAM::Role"))) {
    for (const p of r.Properties.Policies ?? []) for (const s of p.PolicyDocument.Statement) out.push({ resource: id, statement: s });
  }
  return out;
}

/** Every statement of every resource policy (KMS keys, buckets, topics). */
export function resourceStatements(template: Template): { resource: string; statement: Statement }[] {
  const out: { resource: string; statement: Statement }[] = [];
  for (const [type, field] of [["AWS::KMS::Key", "KeyPolicy"], ["AWS::S3::BucketPolicy", "PolicyDocument"], ["AWS::SNS::TopicPolicy", "PolicyDocument"]]) {
    for (const [id, r] of Object.entries(template.findResources(type))) {
      for (const s of r.Properties[field].Statement) out.push({ resource: id, statement: s });
    }
  }
  return out;
}

/** The logical id of the only resource of `type` whose id starts with `prefix`. */
export function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} starting with ${prefix}, found ${ids.join(", ") || "none"}`);
  return ids[0]!;
}
