// What the operator needs after `cdk deploy` (docs/deploy-aws-cloudflare.md).
import { CfnOutput } from "aws-cdk-lib";
import { Construct } from "constructs";

import type { VaneConfig } from "./config.js";
import type { VaneStack } from "./stacks.js";

export class Outputs extends Construct {
  constructor(scope: Construct, id: string, props: { readonly config: VaneConfig; readonly stack: VaneStack }) {
    super(scope, id);
    const { stack, config } = props;
    const out = (name: string, value: string, description: string) => new CfnOutput(this, name, { value, description, key: name });
    out("LoadBalancerDns", stack.services.loadBalancer.loadBalancerDnsName, `Point ${config.domainName} here (CNAME or alias)`);
    out("AdminUrl", `https://${config.domainName}/`, "core-api and the admin UI");
    out("AdminPasswordSecret", stack.services.adminPassword.secretArn, `The first admin's password (${config.adminEmail})`);
    out("SyncSecret", stack.services.syncSecret.secretArn, "Fill in: core_key, cf_account_id, cf_namespace_id, cf_api_token");
    out("AnalyticsSecret", stack.services.analyticsSecret.secretArn, "Fill in: core_token (an admin API key)");
    out("EventStreamName", stack.events.stream.streamName, "VANE_KINESIS_STREAM of the Cloudflare worker");
    out("EdgeProducerUser", stack.events.edgeProducer.userName, "Create its access key for the Cloudflare worker (kinesis:PutRecords only)");
    out("EdgeProducerRoleArn", stack.events.edgeProducerRole.roleArn, "Native edges on EC2/ECS assume this role");
    out("LakeBucket", stack.data.lake.bucketName, "Raw events (vane analytics recompute --lake-s3-bucket)");
    out("DatabaseSecret", stack.data.cluster.secret!.secretArn, "Aurora credentials (user vane)");
    out("AlarmTopic", stack.alarms.topic.topicArn, "Subscribe on-call here");
  }
}
