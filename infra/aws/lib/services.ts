// The three services on ECS Fargate, from one image with different commands: core-api (and
// the admin UI it serves) behind an HTTPS load balancer, sync, and the analytics workers.
// Each has its own task role with only what it uses, its own log group and security group.
import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as appscaling from "aws-cdk-lib/aws-applicationautoscaling";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecr from "aws-cdk-lib/aws-ecr";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kinesis from "aws-cdk-lib/aws-kinesis";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as rds from "aws-cdk-lib/aws-rds";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as servicediscovery from "aws-cdk-lib/aws-servicediscovery";
import * as wafv2 from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";

import { suppress } from "./checkov.js";
import type { ServiceSize, VaneConfig } from "./config.js";
import { ANALYTICS_DATABASE, CORE_DATABASE, DATABASE_USER } from "./data.js";

export const PORTS = { core: 8080, analytics: 8090, sync: 8091 } as const;
/** Writable scratch space of every task (the root file system is read-only). */
const DATA_DIR = "/var/lib/vane";

export interface ServicesProps {
  readonly config: VaneConfig;
  readonly vpc: ec2.IVpc;
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly database: rds.DatabaseCluster;
  readonly stream: kinesis.IStream;
  readonly lake: s3.IBucket;
  readonly accessLogs: s3.IBucket;
  readonly repository: ecr.IRepository;
}

export class Services extends Construct {
  readonly cluster: ecs.Cluster;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly coreTargets: elbv2.ApplicationTargetGroup;
  readonly core: ecs.FargateService;
  readonly sync: ecs.FargateService;
  readonly analytics: ecs.FargateService;
  /** Values the operator fills in after the first deployment (docs/deploy-aws-cloudflare.md). */
  readonly adminPassword: secretsmanager.Secret;
  readonly syncSecret: secretsmanager.Secret;
  readonly analyticsSecret: secretsmanager.Secret;

  private readonly props: ServicesProps;

  constructor(scope: Construct, id: string, props: ServicesProps) {
    super(scope, id);
    this.props = props;
    const { config, vpc, key } = props;
    const namespace = `${config.name}.internal`;

    this.cluster = new ecs.Cluster(this, "Cluster", {
      clusterName: config.name,
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
      defaultCloudMapNamespace: { name: namespace, type: servicediscovery.NamespaceType.DNS_PRIVATE, vpc, useForServiceConnect: false },
    });

    this.adminPassword = new secretsmanager.Secret(this, "AdminPassword", {
      secretName: `${config.name}/admin-password`,
      description: `The first admin's password (${config.adminEmail}), generated once`,
      encryptionKey: key,
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
    });
    this.syncSecret = new secretsmanager.Secret(this, "SyncSecret", {
      secretName: `${config.name}/sync`,
      description: "sync: a server API key of core, and the Cloudflare account, KV namespace and API token it writes snapshots with",
      encryptionKey: key,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ cf_account_id: "set-me", cf_namespace_id: "set-me", cf_api_token: "set-me" }),
        generateStringKey: "core_key",
        excludePunctuation: true,
      },
    });
    this.analyticsSecret = new secretsmanager.Secret(this, "AnalyticsSecret", {
      secretName: `${config.name}/analytics`,
      description: "analytics: an admin API key of core (reads experiments and metric definitions)",
      encryptionKey: key,
      generateSecretString: { secretStringTemplate: JSON.stringify({}), generateStringKey: "core_token", excludePunctuation: true },
    });
    // No automatic rotation for these: their values are keys core issues, set by hand.

    const dbSecret = props.database.secret!;
    const dbUrl = (database: string) =>
      `postgres://${DATABASE_USER}@${props.database.clusterEndpoint.hostname}:${props.database.clusterEndpoint.port}/${database}?sslmode=require`;
    // The URL carries no password: sqlx takes it from PGPASSWORD, injected from the secret.
    const pgPassword = ecs.Secret.fromSecretsManager(dbSecret, "password");

    // --- core-api and the admin UI --------------------------------------------------------
    const coreRole = this.taskRole("Core", "core-api");
    const coreSg = this.securityGroup("Core", "core-api tasks");
    this.core = this.service("Core", {
      name: "core",
      size: config.services.core,
      port: PORTS.core,
      role: coreRole,
      securityGroup: coreSg,
      environment: {
        VANE_CORE_LISTEN: `0.0.0.0:${PORTS.core}`,
        VANE_DATA_DIR: DATA_DIR,
        VANE_DATABASE_URL: dbUrl(CORE_DATABASE),
        VANE_BOOTSTRAP_ADMIN_EMAIL: config.adminEmail,
        VANE_CORE_ANALYTICS_URL: `http://analytics.${namespace}:${PORTS.analytics}`,
      },
      secrets: {
        PGPASSWORD: pgPassword,
        VANE_BOOTSTRAP_ADMIN_PASSWORD: ecs.Secret.fromSecretsManager(this.adminPassword),
      },
    });

    // --- sync -------------------------------------------------------------------------------
    const syncRole = this.taskRole("Sync", "sync");
    const syncSg = this.securityGroup("Sync", "sync tasks");
    this.sync = this.service("Sync", {
      name: "sync",
      size: config.services.sync,
      port: PORTS.sync,
      role: syncRole,
      securityGroup: syncSg,
      environment: {
        VANE_SYNC_LISTEN: `0.0.0.0:${PORTS.sync}`,
        VANE_SYNC_CORE_URL: `http://core.${namespace}:${PORTS.core}`,
        VANE_SYNC_ENVIRONMENTS: config.environments.join(","),
        ...(config.watchedEdges.length > 0 ? { VANE_SYNC_EDGES: config.watchedEdges.join(",") } : {}),
      },
      secrets: {
        VANE_SYNC_CORE_KEY: ecs.Secret.fromSecretsManager(this.syncSecret, "core_key"),
        VANE_SYNC_CF_ACCOUNT_ID: ecs.Secret.fromSecretsManager(this.syncSecret, "cf_account_id"),
        VANE_SYNC_CF_NAMESPACE_ID: ecs.Secret.fromSecretsManager(this.syncSecret, "cf_namespace_id"),
        VANE_SYNC_CF_API_TOKEN: ecs.Secret.fromSecretsManager(this.syncSecret, "cf_api_token"),
      },
    });

    // --- analytics --------------------------------------------------------------------------
    const analyticsRole = this.taskRole("Analytics", "analytics");
    analyticsRole.addToPolicy(
      new iam.PolicyStatement({
        sid: "ReadTheEventStream",
        actions: ["kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords"],
        resources: [props.stream.streamArn],
      }),
    );
    const prefix = config.lake.prefix;
    analyticsRole.addToPolicy(
      new iam.PolicyStatement({
        sid: "WriteAndReadTheLake",
        actions: ["s3:PutObject", "s3:GetObject"],
        resources: [props.lake.arnForObjects(`${prefix}*`)],
      }),
    );
    analyticsRole.addToPolicy(
      new iam.PolicyStatement({
        sid: "ListTheLake",
        actions: ["s3:ListBucket"],
        resources: [props.lake.bucketArn],
        ...(prefix ? { conditions: { StringLike: { "s3:prefix": [`${prefix}*`] } } } : {}),
      }),
    );
    analyticsRole.addToPolicy(
      new iam.PolicyStatement({
        sid: "UseTheLakeKeyThroughS3",
        actions: ["kms:GenerateDataKey", "kms:Decrypt"],
        resources: [key.keyArn],
        conditions: { StringEquals: { "kms:ViaService": `s3.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
    const analyticsSg = this.securityGroup("Analytics", "analytics workers");
    this.analytics = this.service("Analytics", {
      name: "analytics",
      size: config.services.analytics,
      port: PORTS.analytics,
      role: analyticsRole,
      securityGroup: analyticsSg,
      environment: {
        VANE_ANALYTICS_LISTEN: `0.0.0.0:${PORTS.analytics}`,
        VANE_ANALYTICS_DATA_DIR: `${DATA_DIR}/analytics`,
        VANE_ANALYTICS_DATABASE_URL: dbUrl(ANALYTICS_DATABASE),
        VANE_ANALYTICS_KINESIS_STREAM: props.stream.streamName,
        VANE_ANALYTICS_LAKE_S3_BUCKET: props.lake.bucketName,
        VANE_ANALYTICS_LAKE_S3_PREFIX: prefix,
        VANE_ANALYTICS_CORE_URL: `http://core.${namespace}:${PORTS.core}`,
      },
      secrets: {
        PGPASSWORD: pgPassword,
        VANE_ANALYTICS_CORE_TOKEN: ecs.Secret.fromSecretsManager(this.analyticsSecret, "core_token"),
      },
    });

    // --- who may talk to whom ---------------------------------------------------------------
    coreSg.addIngressRule(syncSg, ec2.Port.tcp(PORTS.core), "sync reads snapshots and reports edges");
    coreSg.addIngressRule(analyticsSg, ec2.Port.tcp(PORTS.core), "analytics reads definitions");
    analyticsSg.addIngressRule(coreSg, ec2.Port.tcp(PORTS.analytics), "core serves results from analytics");
    for (const [sg, what] of [[coreSg, "core"], [analyticsSg, "analytics"]] as const) {
      props.database.connections.allowDefaultPortFrom(sg, `${what} uses the database`);
    }

    // --- the public entry: HTTPS load balancer, WAF -----------------------------------------
    const albSg = new ec2.SecurityGroup(this, "LoadBalancerSecurityGroup", {
      vpc,
      description: "The public HTTPS load balancer",
      allowAllOutbound: false,
    });
    albSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "HTTPS from anywhere");
    albSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), "HTTP from anywhere, redirected to HTTPS");
    suppress(albSg, { id: "CKV_AWS_260", reason: "Port 80 only answers a redirect to HTTPS (see the listener)." });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, "LoadBalancer", {
      loadBalancerName: `${config.name}-core`,
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: albSg,
      dropInvalidHeaderFields: true,
      deletionProtection: config.database.deletionProtection,
    });
    this.loadBalancer.logAccessLogs(props.accessLogs, "alb");
    coreSg.addIngressRule(albSg, ec2.Port.tcp(PORTS.core), "the load balancer");
    albSg.addEgressRule(coreSg, ec2.Port.tcp(PORTS.core), "to core-api tasks");

    const https = this.loadBalancer.addListener("Https", {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      certificates: [elbv2.ListenerCertificate.fromArn(config.certificateArn)],
      open: false,
    });
    this.coreTargets = https.addTargets("Core", {
      targetGroupName: `${config.name}-core`,
      port: PORTS.core,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.core.loadBalancerTarget({ containerName: "core", containerPort: PORTS.core })],
      healthCheck: { path: "/healthz", healthyHttpCodes: "200", interval: Duration.seconds(15), healthyThresholdCount: 2, unhealthyThresholdCount: 3 },
      deregistrationDelay: Duration.seconds(30),
    });
    this.loadBalancer.addListener("Http", {
      port: 80,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false,
      defaultAction: elbv2.ListenerAction.redirect({ protocol: "HTTPS", port: "443", permanent: true }),
    });

    const acl = new wafv2.CfnWebACL(this, "WebAcl", {
      name: `${config.name}-core`,
      scope: "REGIONAL",
      defaultAction: { allow: {} },
      visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: `${config.name}-core`, sampledRequestsEnabled: true },
      rules: [
        ["AWSManagedRulesCommonRuleSet", 1],
        ["AWSManagedRulesKnownBadInputsRuleSet", 2],
      ].map(([ruleSet, priority]) => ({
        name: ruleSet as string,
        priority: priority as number,
        overrideAction: { none: {} },
        statement: { managedRuleGroupStatement: { vendorName: "AWS", name: ruleSet as string } },
        visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: ruleSet as string, sampledRequestsEnabled: true },
      })),
    });
    new wafv2.CfnWebACLAssociation(this, "WebAclAssociation", {
      resourceArn: this.loadBalancer.loadBalancerArn,
      webAclArn: acl.attrArn,
    });

    // --- autoscaling ------------------------------------------------------------------------
    const coreScaling = this.core.autoScaleTaskCount({ minCapacity: config.services.core.minTasks, maxCapacity: config.services.core.maxTasks });
    coreScaling.scaleOnCpuUtilization("Cpu", { targetUtilizationPercent: config.scaling.coreCpuPercent });

    const analyticsScaling = this.analytics.autoScaleTaskCount({ minCapacity: config.services.analytics.minTasks, maxCapacity: config.services.analytics.maxTasks });
    const lagMs = config.scaling.analyticsIteratorAgeSeconds * 1000;
    analyticsScaling.scaleOnMetric("IteratorAge", {
      metric: props.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: "Maximum", period: Duration.minutes(1) }),
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      scalingSteps: [
        { upper: lagMs / 4, change: -1 },
        { lower: lagMs, change: +1 },
        { lower: lagMs * 5, change: +2 },
      ],
      cooldown: Duration.minutes(3),
    });
  }

  private taskRole(id: string, what: string): iam.Role {
    return new iam.Role(this, `${id}TaskRole`, {
      roleName: `${this.props.config.name}-${id.toLowerCase()}-task`,
      description: `Vane ${what} tasks`,
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
    });
  }

  private securityGroup(id: string, description: string): ec2.SecurityGroup {
    // Outbound: AWS APIs, ECR, core's neighbours and (sync) Cloudflare's API over HTTPS.
    return new ec2.SecurityGroup(this, `${id}SecurityGroup`, { vpc: this.props.vpc, description, allowAllOutbound: true });
  }

  private service(
    id: string,
    spec: {
      name: string;
      size: ServiceSize;
      port: number;
      role: iam.Role;
      securityGroup: ec2.SecurityGroup;
      environment: Record<string, string>;
      secrets: Record<string, ecs.Secret>;
    },
  ): ecs.FargateService {
    const { config, key, logRetention, repository } = this.props;
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      logGroupName: `/${config.name}/${spec.name}`,
      retention: logRetention,
      encryptionKey: key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const task = new ecs.FargateTaskDefinition(this, `${id}Task`, {
      family: `${config.name}-${spec.name}`,
      cpu: spec.size.cpu,
      memoryLimitMiB: spec.size.memoryMiB,
      taskRole: spec.role,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      volumes: [{ name: "data" }, { name: "tmp" }],
    });
    const container = task.addContainer(spec.name, {
      containerName: spec.name,
      image: ecs.ContainerImage.fromEcrRepository(repository, config.imageTag),
      // The image's entrypoint is `vane`; the command picks the part.
      command: [spec.name],
      environment: { ...spec.environment, VANE_LOG_FORMAT: "json", RUST_LOG: "info" },
      secrets: spec.secrets,
      portMappings: [{ containerPort: spec.port, name: "http" }],
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: spec.name }),
      readonlyRootFilesystem: true,
      user: "10001",
      healthCheck: {
        command: ["CMD", "curl", "-fsS", "--max-time", "3", `http://127.0.0.1:${spec.port}/healthz`],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(60),
      },
      stopTimeout: Duration.seconds(30),
    });
    container.addMountPoints(
      { containerPath: DATA_DIR, sourceVolume: "data", readOnly: false },
      { containerPath: "/tmp", sourceVolume: "tmp", readOnly: false },
    );
    return new ecs.FargateService(this, id, {
      serviceName: spec.name,
      cluster: this.cluster,
      taskDefinition: task,
      desiredCount: spec.size.minTasks,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [spec.securityGroup],
      assignPublicIp: false,
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      enableExecuteCommand: false,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      cloudMapOptions: { name: spec.name, dnsRecordType: servicediscovery.DnsRecordType.A, dnsTtl: Duration.seconds(10) },
      ...(spec.name === "core" ? { healthCheckGracePeriod: Duration.seconds(60) } : {}),
    });
  }
}
