//! Vane's engine on the issue's generated snapshot (1,000 flags, 200 experiments in 10 layers)
//! and on 350 flags (the size of Unleash's reference figures). Run beside `yggdrasil.rs`:
//! `cargo bench -p vane-bench --bench engine --bench yggdrasil`.
#![allow(clippy::expect_used)] // A benchmark whose setup fails has nothing to measure.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use vane_bench::{
    GenSpec, LAYERED_EXPERIMENT, NOW, THREE_CLAUSE_FLAG, generate_snapshot, sample_context,
    three_clause_context,
};
use vane_engine::{CompiledSnapshot, Snapshot, compile, compile_json};

fn compiled(snapshot: &Snapshot) -> CompiledSnapshot {
    compile(snapshot.clone()).expect("the generated snapshot compiles")
}

fn compiling(c: &mut Criterion) {
    let mut group = c.benchmark_group("vane/compile");
    // Milliseconds per iteration: a few flat samples are plenty.
    group.sample_size(20);
    group.sampling_mode(criterion::SamplingMode::Flat);
    for (name, spec) in [
        ("1000f+200e", GenSpec::ISSUE),
        ("350f", GenSpec::flags_only(350)),
    ] {
        let snapshot = generate_snapshot(&spec);
        group.bench_function(name, |b| {
            b.iter_batched(
                || snapshot.clone(),
                |s| compile(s).expect("compiles"),
                BatchSize::LargeInput,
            )
        });
    }
    let json = serde_json::to_string(&generate_snapshot(&GenSpec::ISSUE)).expect("serializes");
    group.bench_function("1000f+200e from JSON", |b| {
        b.iter_batched(
            || json.as_str(),
            |json| compile_json(black_box(json)).expect("compiles"),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn evaluating(c: &mut Criterion) {
    let issue = compiled(&generate_snapshot(&GenSpec::ISSUE));
    let small = compiled(&generate_snapshot(&GenSpec::flags_only(350)));
    let context = sample_context(42);

    let mut group = c.benchmark_group("vane/evaluate");
    group.bench_function("all 1000f+200e (evaluate_all)", |b| {
        b.iter(|| issue.evaluate_all(black_box(&context), NOW))
    });
    group.bench_function("flags 1000f (evaluate_flags)", |b| {
        b.iter(|| issue.evaluate_flags(black_box(&context), NOW))
    });
    group.bench_function("flags 350f (evaluate_flags)", |b| {
        b.iter(|| small.evaluate_flags(black_box(&context), NOW))
    });

    let three = three_clause_context();
    group.bench_function("one flag, 3-clause condition", |b| {
        b.iter(|| issue.evaluate_flag(black_box(THREE_CLAUSE_FLAG), black_box(&three), NOW))
    });

    // A user whose layer bucket falls in the experiment's slot: both hashes are computed.
    let member = (0..100_000)
        .map(sample_context)
        .find(|ctx| issue.assign(LAYERED_EXPERIMENT, ctx, NOW).in_experiment)
        .expect("some sample user is in the layered experiment");
    group.bench_function("assign one layered experiment", |b| {
        b.iter(|| issue.assign(black_box(LAYERED_EXPERIMENT), black_box(&member), NOW))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = compiling, evaluating
}
criterion_main!(benches);
