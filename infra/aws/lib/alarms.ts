// CloudWatch alarms on what an SRE acts on: 5xx answers, consumer lag (iterator age), stream
// throttling, database CPU, connections and capacity, unhealthy core tasks. They notify one
// encrypted SNS topic (and an email address, when configured).
import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as kinesis from "aws-cdk-lib/aws-kinesis";
import * as kms from "aws-cdk-lib/aws-kms";
import * as rds from "aws-cdk-lib/aws-rds";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";

import type { VaneConfig } from "./config.js";

export interface AlarmsProps {
  readonly config: VaneConfig;
  readonly key: kms.IKey;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly coreTargets: elbv2.ApplicationTargetGroup;
  readonly stream: kinesis.IStream;
  readonly database: rds.DatabaseCluster;
}

export class Alarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  private readonly name: string;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const { config } = props;
    this.name = config.name;
    this.topic = new sns.Topic(this, "Topic", {
      topicName: `${config.name}-alarms`,
      displayName: `${config.name} alarms`,
      masterKey: props.key,
      enforceSSL: true,
    });
    if (config.alarmEmail) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    }
    const five = Duration.minutes(5);
    const one = Duration.minutes(1);

    this.add("Core5xx", "core-api answered 5xx (targets); see docs/deploy-aws-cloudflare.md#core-5xx", {
      metric: props.coreTargets.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: five, statistic: "Sum" }),
      threshold: config.alarms.http5xxPer5Minutes,
      evaluationPeriods: 1,
    });
    this.add("LoadBalancer5xx", "the load balancer answered 5xx itself (no healthy core task, timeouts)", {
      metric: props.loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: five, statistic: "Sum" }),
      threshold: config.alarms.http5xxPer5Minutes,
      evaluationPeriods: 1,
    });
    this.add("CoreUnhealthyTasks", "a core-api task fails its /healthz check", {
      metric: props.coreTargets.metrics.unhealthyHostCount({ period: one, statistic: "Maximum" }),
      threshold: 1,
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    this.add("AnalyticsIteratorAge", "analytics lags behind the event stream (iterator age)", {
      metric: props.stream.metricGetRecordsIteratorAgeMilliseconds({ period: one, statistic: "Maximum" }),
      threshold: config.alarms.iteratorAgeSeconds * 1000,
      evaluationPeriods: 5,
    });
    this.add("StreamWriteThrottled", "edges' PutRecords calls are throttled by the stream", {
      metric: props.stream.metricWriteProvisionedThroughputExceeded({ period: one, statistic: "Sum" }),
      threshold: 0,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
    });
    this.add("StreamReadThrottled", "analytics' GetRecords calls are throttled by the stream", {
      metric: props.stream.metricReadProvisionedThroughputExceeded({ period: one, statistic: "Sum" }),
      threshold: 0,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
    });
    this.add("DatabaseCpu", "database CPU is high", {
      metric: props.database.metricCPUUtilization({ period: five, statistic: "Average" }),
      threshold: config.alarms.databaseCpuPercent,
      evaluationPeriods: 3,
    });
    this.add("DatabaseConnections", "database connections are high", {
      metric: props.database.metricDatabaseConnections({ period: five, statistic: "Maximum" }),
      threshold: config.alarms.databaseConnections,
      evaluationPeriods: 2,
    });
    this.add("DatabaseCapacity", "Aurora Serverless runs at its maximum capacity", {
      metric: props.database.metric("ACUUtilization", { period: five, statistic: "Average" }),
      threshold: 90,
      evaluationPeriods: 3,
    });
  }

  private add(id: string, description: string, options: Omit<cloudwatch.AlarmProps, "alarmName" | "alarmDescription">): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmName: `${this.name}-${id}`,
      alarmDescription: description,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ...options,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}
