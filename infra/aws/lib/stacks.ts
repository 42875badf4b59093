// Two stacks: the image registry (deployed first, so an image can be pushed before any task
// needs it) and the deployment itself.
import { RemovalPolicy, Stack, StackProps, Tags } from "aws-cdk-lib";
import * as ecr from "aws-cdk-lib/aws-ecr";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

import { Alarms } from "./alarms.js";
import { suppressDeploymentHandlers } from "./checkov.js";
import type { VaneConfig } from "./config.js";
import { Data } from "./data.js";
import { DataKey } from "./keys.js";
import { Network } from "./network.js";
import { Outputs } from "./outputs.js";
import { Services } from "./services.js";
import { EventStream } from "./stream.js";

export interface VaneStackProps extends StackProps {
  readonly config: VaneConfig;
}

/** The ECR repository the image is pushed to (docs/deploy-aws-cloudflare.md, step 3). */
export class RegistryStack extends Stack {
  readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, props: VaneStackProps) {
    super(scope, id, props);
    this.repository = new ecr.Repository(this, "Repository", {
      repositoryName: props.config.name,
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      encryption: ecr.RepositoryEncryption.KMS,
      lifecycleRules: [{ description: "keep the last 30 images", maxImageCount: 30 }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Tags.of(this).add("app", props.config.name);
  }
}

/** VPC, database, stream, lake, the three services, the load balancer and the alarms. */
export class VaneStack extends Stack {
  readonly network: Network;
  readonly data: Data;
  readonly events: EventStream;
  readonly services: Services;
  readonly alarms: Alarms;

  constructor(scope: Construct, id: string, props: VaneStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    const key = new DataKey(this, "DataKey", { name: config.name }).key;
    this.network = new Network(this, "Network", { config, key, logRetention });
    this.data = new Data(this, "Data", { config, vpc: this.network.vpc, key, logRetention });
    this.events = new EventStream(this, "Events", { config });
    const repository = ecr.Repository.fromRepositoryName(this, "Repository", config.name);
    this.services = new Services(this, "Services", {
      config,
      vpc: this.network.vpc,
      key,
      logRetention,
      database: this.data.cluster,
      stream: this.events.stream,
      lake: this.data.lake,
      accessLogs: this.data.accessLogs,
      repository,
    });
    this.alarms = new Alarms(this, "Alarms", {
      config,
      key,
      loadBalancer: this.services.loadBalancer,
      coreTargets: this.services.coreTargets,
      stream: this.events.stream,
      database: this.data.cluster,
    });
    new Outputs(this, "Outputs", { config, stack: this });
    Tags.of(this).add("app", config.name);
    suppressDeploymentHandlers(this);
  }
}
