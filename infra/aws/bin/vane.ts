// The CDK app: `npx cdk synth -c config=config/example.json` (docs/deploy-aws-cloudflare.md).
// Account and region come from the CDK CLI's environment (your AWS profile), never from code.
import { readFileSync } from "node:fs";

import { App } from "aws-cdk-lib";

import { resolveConfig } from "../lib/config.js";
import { RegistryStack, VaneStack } from "../lib/stacks.js";

const app = new App();
const file = app.node.tryGetContext("config") as string | undefined;
if (!file) {
  throw new Error("give the deployment's parameters: cdk synth -c config=path/to/config.json (see config/example.json)");
}
const config = resolveConfig(JSON.parse(readFileSync(file, "utf8")));
const region = process.env.CDK_DEFAULT_REGION;
if (!region) {
  throw new Error("no AWS region: set AWS_REGION or a profile with a region (the load balancer's access logs need one)");
}
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region };
const prefix = config.name.replace(/(^|-)([a-z])/g, (_, _dash: string, c: string) => c.toUpperCase());
new RegistryStack(app, `${prefix}Registry`, { env, config, description: `${config.name}: container image repository` });
new VaneStack(app, prefix, { env, config, description: `${config.name}: core-api, sync, analytics, database, stream, lake` });
