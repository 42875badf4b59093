// The event stream: Kinesis on demand, encrypted, and the identity edges outside AWS (the
// Cloudflare worker) sign with, which may only PutRecords to this stream.
import { Duration } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kinesis from "aws-cdk-lib/aws-kinesis";
import { Construct } from "constructs";

import type { VaneConfig } from "./config.js";

export class EventStream extends Construct {
  readonly stream: kinesis.Stream;
  /** Edges outside AWS: an IAM user (static keys, created by the operator) in this group. */
  readonly edgeProducers: iam.Group;
  readonly edgeProducer: iam.User;
  /** Edges inside AWS (EC2, ECS) assume this role instead of holding keys. */
  readonly edgeProducerRole: iam.Role;

  constructor(scope: Construct, id: string, props: { readonly config: VaneConfig }) {
    super(scope, id);
    const { config } = props;
    this.stream = new kinesis.Stream(this, "Stream", {
      streamName: `${config.name}-events`,
      streamMode: kinesis.StreamMode.ON_DEMAND,
      // The AWS-managed key: producers and consumers need no KMS grant, so the edge
      // identity below stays at kinesis:PutRecords and nothing else.
      encryption: kinesis.StreamEncryption.MANAGED,
      retentionPeriod: Duration.hours(config.stream.retentionHours),
    });

    const putRecords = new iam.PolicyStatement({
      sid: "EdgesOnlyPutRecordsToTheEventStream",
      actions: ["kinesis:PutRecords"],
      resources: [this.stream.streamArn],
    });
    const policy = new iam.ManagedPolicy(this, "EdgeProducerPolicy", {
      managedPolicyName: `${config.name}-edge-producer`,
      description: "Vane edges: kinesis:PutRecords to the event stream, nothing else",
      statements: [putRecords],
    });
    this.edgeProducers = new iam.Group(this, "EdgeProducers", {
      groupName: `${config.name}-edge-producers`,
      managedPolicies: [policy],
    });
    this.edgeProducer = new iam.User(this, "EdgeProducer", {
      userName: `${config.name}-edge-producer`,
      groups: [this.edgeProducers],
    });
    // An IAM user because Cloudflare Workers sign with static keys (wrangler secrets); it can
    // only PutRecords to one stream, through its group.
    this.edgeProducerRole = new iam.Role(this, "EdgeProducerRole", {
      roleName: `${config.name}-edge-producer`,
      description: "Native Vane edges on EC2 or ECS: kinesis:PutRecords to the event stream",
      assumedBy: new iam.CompositePrincipal(new iam.ServicePrincipal("ec2.amazonaws.com"), new iam.ServicePrincipal("ecs-tasks.amazonaws.com")),
      managedPolicies: [policy],
    });
  }
}
